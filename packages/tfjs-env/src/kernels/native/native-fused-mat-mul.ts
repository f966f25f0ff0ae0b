import * as tf from '@tensorflow/tfjs';
import { LINEAR_KERNEL } from '@promptkd/core';
import type { KernelArgs, WasmBackend } from '../wasm-backend.js';
import { floatOffset, heapF32, type NativeKernelsAddon } from './heap.js';
import { nativeBatchMatMul } from './native-batch-mat-mul.js';
import { ADDON_OP, BroadcastMode, collapseBroadcast, type BinaryFn, type UnaryFn } from './native-elementwise.js';
import { addonFunction, delegate, type NativeKernel } from './native-util.js';

const ADD = ADDON_OP[tf.Add] as number;
const RELU = ADDON_OP[tf.Relu] as number;

/**
 * The activations of `tf.fused.matMul` other than `linear` and `relu` (which run in place on the addon): the wasm
 * kernel that applies each, and its inputs and attributes.
 */
const ACTIVATION_KERNELS: Readonly<Record<string, (y: tf.TensorInfo, args: KernelArgs) => [string, tf.NamedTensorInfoMap, tf.NamedAttrMap]>> = {
  elu: (y) => [tf.Elu, { x: y }, {}],
  relu6: (y) => [tf.Relu6, { x: y }, {}],
  sigmoid: (y) => [tf.Sigmoid, { x: y }, {}],
  leakyrelu: (y, { attrs = {} }) => [tf.LeakyRelu, { x: y }, { alpha: (attrs.leakyreluAlpha as number | undefined) ?? 0.2 }],
  prelu: (y, { inputs }) => [tf.Prelu, { x: y, alpha: inputs.preluActivationWeights as tf.TensorInfo }, {}],
};

/** Runs the wasm kernel `name` (whatever is registered: stock, promptkd's or native); the input `y` is released. */
function runConsuming(backend: WasmBackend, name: string, y: tf.TensorInfo, inputs: tf.NamedTensorInfoMap, attrs: tf.NamedAttrMap): tf.TensorInfo {
  const kernel = tf.getKernel(name, 'wasm');
  if (!kernel) throw new Error(`promptkd: no wasm kernel '${name}' for _FusedMatMul`);
  try {
    return kernel.kernelFunc({ inputs, backend, attrs } as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  } finally {
    backend.disposeData(y.dataId);
  }
}

/**
 * `_FusedMatMul` (what `tf.fused.matMul` runs: `activation(a·b + bias)`) on the native addon: the product as
 * {@link nativeBatchMatMul} computes it, then a bias that varies along rows, columns or every element added and
 * `relu` applied in place in the product's buffer — one kernel and one output instead of `BatchMatMul`, `Add` (and
 * `Relu`), each with its own tensor. The additions are the unfused ones, so the result is bit-identical to `matMul`
 * then `add`. Other biases go through the `Add` kernel and other activations through their own kernels
 * ({@link ACTIVATION_KERNELS}), so every bias `tf.fused.matMul` accepts works (the stock wasm kernel takes rank-1
 * biases only). Non-float32 operands go to `fallback` (the wasm kernel).
 */
export function nativeFusedMatMul(addon: NativeKernelsAddon, fallback: tf.KernelFunc) {
  const product = nativeBatchMatMul(addon, fallback);
  const binary = addonFunction<BinaryFn>(addon, 'binary');
  const unary = addonFunction<UnaryFn>(addon, 'unary');
  return (args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] => {
    const { inputs, backend, attrs = {} } = args;
    const a = inputs.a as tf.TensorInfo;
    const b = inputs.b as tf.TensorInfo;
    const bias = inputs.bias as tf.TensorInfo | undefined;
    const activation = (attrs.activation as string | undefined) ?? 'linear';
    const other = ACTIVATION_KERNELS[activation];
    if (!binary || !unary || (activation !== 'linear' && activation !== 'relu' && !other)) return delegate(fallback, args);
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || (bias && bias.dtype !== 'float32') || !heapF32(backend)) return delegate(fallback, args);
    let y = product({ inputs: { a, b }, backend, attrs: { ...attrs, activation: 'linear' } }) as tf.TensorInfo;
    if (tf.util.sizeFromShape(y.shape) === 0) return y;
    if (bias) {
      const c = collapseBroadcast(y.shape, bias.shape, y.shape);
      if (c && c.a === BroadcastMode.Full) {
        const o = floatOffset(backend, y);
        binary(heapF32(backend) as Float32Array, ADD, c.outer, c.inner, o, c.a, floatOffset(backend, bias), c.b, o);
      } else {
        y = runConsuming(backend, tf.Add, y, { a: y, b: bias }, {});
      }
    }
    if (activation === 'relu') {
      const o = floatOffset(backend, y);
      unary(heapF32(backend) as Float32Array, RELU, tf.util.sizeFromShape(y.shape), o, o, 0);
    } else if (other) {
      const [name, ins, at] = other(y, args);
      y = runConsuming(backend, name, y, ins, at);
    }
    return y;
  };
}

/** The fallback of {@link LINEAR_KERNELS}' kernel: `linear()` sends it float32, non-empty operands only. */
const noFallback: tf.KernelFunc = () => {
  throw new Error('promptkd: PromptkdLinear got operands the native kernel does not take (linear() sends float32 only)');
};

/**
 * `@promptkd/core`'s fused `linear()` (`x·W + b`), added to the wasm backend with the native addon: the same
 * product and in-place bias as {@link nativeFusedMatMul}, without `tf.fused.matMul`'s reshapes and custom-gradient
 * wrapper around it (one kernel instead of nine per layer).
 */
export const LINEAR_KERNELS: ReadonlyMap<string, (addon: NativeKernelsAddon) => NativeKernel | undefined> = new Map([
  [
    LINEAR_KERNEL,
    (addon: NativeKernelsAddon): NativeKernel | undefined => {
      if (!addonFunction(addon, 'binary') || !addonFunction(addon, 'gemm')) return undefined;
      const fused = nativeFusedMatMul(addon, noFallback);
      return ({ inputs, backend }: KernelArgs) =>
        fused({ inputs: { a: inputs.x as tf.TensorInfo, b: inputs.w as tf.TensorInfo, bias: inputs.b as tf.TensorInfo }, backend, attrs: { activation: 'linear' } });
    },
  ],
]);
