/**
 * Training kernels and gradients for the wasm backend. Each kernel lives in its own file and is a
 * composition of fast wasm kernels. Registration is idempotent.
 */
import * as tf from '@tensorflow/tfjs';
import { batchMatMul, setStockBatchMatMul } from './batch-mat-mul.js';
import { conv2DBackpropFilter } from './conv2d-backprop-filter.js';
import { conv2DBackpropInput, setStockConv2DBackpropInput } from './conv2d-backprop-input.js';
import { depthwiseConv2dNativeBackpropFilter } from './depthwise-conv2d-backprop-filter.js';
import { depthwiseConv2dNativeBackpropInput } from './depthwise-conv2d-backprop-input.js';
import { einsum } from './einsum.js';
import { setStockTile, tile } from './tile.js';
import { maxPoolGrad } from './max-pool-grad.js';
import { identity, setStockIdentity } from './identity.js';
import { setStockTranspose, transpose } from './transpose.js';
import { setStockSlice, slice } from './slice.js';
import { unsortedSegmentSum } from './unsorted-segment-sum.js';
import { PROMPTKD_KERNEL, type KernelArgs } from './wasm-backend.js';

interface TrainingKernel {
  readonly name: string;
  readonly kernelFunc: (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];
  /** Receives the stock wasm kernel (if any) before it is replaced. */
  readonly keepStock?: (k: tf.KernelFunc | undefined) => void;
}

const KERNELS: readonly TrainingKernel[] = [
  { name: tf.Conv2DBackpropFilter, kernelFunc: conv2DBackpropFilter },
  { name: tf.Conv2DBackpropInput, kernelFunc: conv2DBackpropInput, keepStock: setStockConv2DBackpropInput },
  { name: tf.DepthwiseConv2dNativeBackpropFilter, kernelFunc: depthwiseConv2dNativeBackpropFilter },
  { name: tf.DepthwiseConv2dNativeBackpropInput, kernelFunc: depthwiseConv2dNativeBackpropInput },
  { name: tf.UnsortedSegmentSum, kernelFunc: unsortedSegmentSum },
  { name: tf.Einsum, kernelFunc: einsum },
  { name: tf.BatchMatMul, kernelFunc: batchMatMul, keepStock: setStockBatchMatMul },
  { name: tf.Tile, kernelFunc: tile, keepStock: setStockTile },
  { name: tf.MaxPoolGrad, kernelFunc: maxPoolGrad },
  { name: tf.Identity, kernelFunc: identity, keepStock: setStockIdentity },
  { name: tf.Transpose, kernelFunc: transpose, keepStock: setStockTranspose },
  { name: tf.Slice, kernelFunc: slice, keepStock: setStockSlice },
];

const STOCK_KERNEL = Symbol.for('promptkd.stockKernel');

function isOurs(cfg: tf.KernelConfig | undefined): boolean {
  return !!cfg && (cfg.kernelFunc as unknown as Record<symbol, unknown>)[PROMPTKD_KERNEL] === true;
}

/** Stock wasm kernel configs replaced by {@link registerWasmTrainingKernels} (undefined = there was none). */
const replaced = new Map<string, tf.KernelConfig | undefined>();

/**
 * Registers promptkd's training kernels for the `wasm` backend and returns their names: the kernels the stock
 * backend lacks (`Conv2DBackpropFilter`, `DepthwiseConv2dNativeBackpropFilter/Input`, `UnsortedSegmentSum`,
 * `Einsum`) and faster replacements for some it has (`Conv2DBackpropInput`, `BatchMatMul`, `Tile`,
 * `MaxPoolGrad`, `Identity`, `Transpose`, `Slice`). Replaced stock kernels
 * are kept for the cases the replacements delegate back. Idempotent; {@link initBackend} calls it when it picks
 * wasm. See the package README for how each kernel is built and its measured speed.
 */
export function registerWasmTrainingKernels(): string[] {
  const names: string[] = [];
  for (const k of KERNELS) {
    const existing = tf.getKernel(k.name, 'wasm');
    if (isOurs(existing)) {
      // Registered by (possibly another copy of) this module: adopt its stock kernel reference.
      k.keepStock?.((existing?.kernelFunc as unknown as Record<symbol, tf.KernelFunc | undefined>)[STOCK_KERNEL]);
      names.push(k.name);
      continue;
    }
    k.keepStock?.(existing?.kernelFunc);
    replaced.set(k.name, existing);
    if (existing) tf.unregisterKernel(k.name, 'wasm');
    const kernelFunc = ((args: KernelArgs) => k.kernelFunc(args)) as unknown as tf.KernelFunc;
    (kernelFunc as unknown as Record<symbol, unknown>)[PROMPTKD_KERNEL] = true;
    (kernelFunc as unknown as Record<symbol, unknown>)[STOCK_KERNEL] = existing?.kernelFunc;
    tf.registerKernel({
      kernelName: k.name,
      backendName: 'wasm',
      kernelFunc,
      // Keep the stock setup/dispose hooks so a re-initialised wasm backend still sets the stock kernel up.
      ...(existing?.setupFunc ? { setupFunc: existing.setupFunc } : {}),
      ...(existing?.disposeFunc ? { disposeFunc: existing.disposeFunc } : {}),
    });
    names.push(k.name);
  }
  return names;
}

/**
 * Undoes {@link registerWasmTrainingKernels}: re-registers the stock wasm kernels it replaced and removes the ones
 * the stock backend lacks. For benchmarks (stock vs patched) and tests; returns the names it touched.
 */
export function unregisterWasmTrainingKernels(): string[] {
  const names: string[] = [];
  for (const k of KERNELS) {
    if (!isOurs(tf.getKernel(k.name, 'wasm')) || !replaced.has(k.name)) continue;
    tf.unregisterKernel(k.name, 'wasm');
    const stockCfg = replaced.get(k.name);
    if (stockCfg) tf.registerKernel(stockCfg);
    replaced.delete(k.name);
    names.push(k.name);
  }
  return names;
}
