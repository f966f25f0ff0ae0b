import * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from '../wasm-backend.js';
import type { NativeKernelsAddon } from './heap.js';
import { nativeBatchMatMul } from './native-batch-mat-mul.js';
import { LINEAR_KERNELS, nativeFusedMatMul } from './native-fused-mat-mul.js';
import { nativeConv2D, nativeConv2DBackpropFilter, nativeConv2DBackpropInput } from './native-conv2d.js';
import { ELEMENTWISE_KERNELS } from './native-elementwise.js';
import { FUSED_KERNELS } from './native-fused.js';
import { nativeMaxPoolGrad } from './native-max-pool-grad.js';
import { ACTIVATION_GRAD_KERNELS, NATIVE_GRADIENTS } from './native-activation-grads.js';
import { ATTENTION_KERNELS } from './native-attention.js';
import { VIT_BLOCK_KERNELS } from './native-vit-block.js';
import { CODA_ATTENTION_KERNELS } from './native-coda-attention.js';
import { QKV_ATTENTION_KERNELS } from './native-qkv-attention.js';
import type { NativeKernelFactory } from './heap.js';

export type { NativeKernelsAddon } from './heap.js';

type Factory = NativeKernelFactory;

/** Kernel name → native implementation; each falls back to the kernel it replaces for cases it does not cover. */
const NATIVE_KERNELS: ReadonlyMap<string, Factory> = new Map<string, Factory>([
  [tf.BatchMatMul, nativeBatchMatMul],
  [tf._FusedMatMul, nativeFusedMatMul],
  [tf.Conv2D, nativeConv2D],
  [tf.Conv2DBackpropInput, nativeConv2DBackpropInput],
  [tf.Conv2DBackpropFilter, nativeConv2DBackpropFilter],
  [tf.MaxPoolGrad, nativeMaxPoolGrad],
  ...ELEMENTWISE_KERNELS,
]);

/** The wasm kernel configs the native ones replaced, to restore on unregister. */
const replaced = new Map<string, tf.KernelConfig>();
/** Kernels the wasm backend lacks that the addon added (the fused ones), to remove on unregister. */
const added = new Set<string>();
/** Stock gradients replaced by {@link NATIVE_GRADIENTS}, to restore on unregister. */
const replacedGradients = new Map<string, tf.GradConfig>();

/**
 * Registers the native addon's kernels for the `wasm` backend on top of whatever is registered there (stock or
 * promptkd's wasm training kernels, which stay as fallbacks). Call after `registerWasmTrainingKernels()`.
 * Idempotent; returns the kernel names.
 */
export function registerNativeKernels(addon: NativeKernelsAddon): string[] {
  const names: string[] = [];
  for (const [name, factory] of NATIVE_KERNELS) {
    names.push(name);
    if (replaced.has(name)) continue;
    const existing = tf.getKernel(name, 'wasm');
    if (!existing) continue;
    const impl = factory(addon, existing.kernelFunc);
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel({ ...existing, kernelFunc: ((args: KernelArgs) => impl(args)) as unknown as tf.KernelFunc });
    replaced.set(name, existing);
  }
  for (const [name, factory] of [...FUSED_KERNELS, ...ACTIVATION_GRAD_KERNELS, ...ATTENTION_KERNELS, ...LINEAR_KERNELS, ...VIT_BLOCK_KERNELS, ...CODA_ATTENTION_KERNELS, ...QKV_ATTENTION_KERNELS]) {
    const impl = added.has(name) || tf.getKernel(name, 'wasm') ? undefined : factory(addon);
    if (impl) {
      tf.registerKernel({ kernelName: name, backendName: 'wasm', kernelFunc: ((args: KernelArgs) => impl(args)) as unknown as tf.KernelFunc });
      added.add(name);
    }
    if (added.has(name)) names.push(name);
  }
  for (const [name, override] of NATIVE_GRADIENTS) {
    const stock = tf.getGradient(name);
    if (!stock || replacedGradients.has(name)) continue;
    replacedGradients.set(name, stock);
    tf.registerGradient(override(stock));
  }
  return names;
}

/** Puts back the kernels {@link registerNativeKernels} replaced; returns their names. */
export function unregisterNativeKernels(): string[] {
  const names: string[] = [];
  for (const [name, cfg] of replaced) {
    tf.unregisterKernel(name, 'wasm');
    tf.registerKernel(cfg);
    names.push(name);
  }
  replaced.clear();
  for (const name of added) {
    tf.unregisterKernel(name, 'wasm');
    names.push(name);
  }
  added.clear();
  for (const stock of replacedGradients.values()) tf.registerGradient(stock);
  replacedGradients.clear();
  return names;
}

/** Whether native kernels are registered now. */
export function nativeKernelsActive(): boolean {
  return replaced.size > 0 || added.size > 0;
}
