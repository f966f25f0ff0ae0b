import type * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from './wasm-backend.js';

/** The stock wasm `Identity` (a copy), kept for string tensors. */
let stock: tf.KernelFunc | undefined;

/** Remembers the stock kernel before it is replaced. @internal */
export function setStockIdentity(k: tf.KernelFunc | undefined): void {
  stock = k;
}

/**
 * Zero-copy `Identity` for wasm: the output shares x's buffer with one more reference, exactly as the cpu
 * backend's `Identity` (and wasm's own `Reshape`) do; tensors are immutable and every wasm kernel writes a fresh
 * output. The stock kernel copies the whole buffer, and TF.js calls it a lot in training (`clone`, same-dtype
 * `cast` in `tf.moments`, gradient pass-throughs): ~300 full-activation copies per ResNet-18 step.
 */
export function identity(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { inputs, backend } = args;
  const x = inputs.x as tf.TensorInfo;
  if (x.dtype === 'string') {
    if (!stock) throw new Error('promptkd: stock Identity missing');
    return stock(args as unknown as Parameters<tf.KernelFunc>[0]);
  }
  backend.incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}
