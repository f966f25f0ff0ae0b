import * as tf from '@tensorflow/tfjs';
import { broadcastIndex } from '../batch-mat-mul.js';
import type { KernelArgs } from '../wasm-backend.js';
import { floatOffset, heapF32, type NativeKernelsAddon } from './heap.js';

/**
 * `BatchMatMul` on the native addon: one OpenBLAS SGEMM per batch entry, straight on the wasm heap, with the
 * transpose flags passed to BLAS (no transposed copies). Batch dimensions broadcast as in `tf.matMul`.
 * Non-float32 or empty operands go to `fallback` (the wasm kernel).
 */
export function nativeBatchMatMul(addon: NativeKernelsAddon, fallback: tf.KernelFunc) {
  return (args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] => {
    const { inputs, backend, attrs = {} } = args;
    const a = inputs.a as tf.TensorInfo;
    const b = inputs.b as tf.TensorInfo;
    const delegate = (): tf.TensorInfo | tf.TensorInfo[] => fallback(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
    if (a.dtype !== 'float32' || b.dtype !== 'float32' || !heapF32(backend)) return delegate();
    const ta = attrs.transposeA === true;
    const tb = attrs.transposeB === true;
    const ra = a.shape.length;
    const rb = b.shape.length;
    const m = a.shape[ta ? ra - 1 : ra - 2] as number;
    const k = a.shape[ta ? ra - 2 : ra - 1] as number;
    const kb = b.shape[tb ? rb - 1 : rb - 2] as number;
    const n = b.shape[tb ? rb - 2 : rb - 1] as number;
    if (k !== kb) {
      throw new Error(
        `Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} and ` +
          `transposeA=${ta} and transposeB=${tb} must match.`,
      );
    }
    if (m * n * k === 0) return delegate();
    const outerA = a.shape.slice(0, -2);
    const outerB = b.shape.slice(0, -2);
    const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
    const batch = tf.util.sizeFromShape(outer);
    const out = backend.makeOutput([...outer, m, n], 'float32');
    const heap = heapF32(backend) as Float32Array;
    const aOff = floatOffset(backend, a);
    const bOff = floatOffset(backend, b);
    const oOff = floatOffset(backend, out);
    const ia = broadcastIndex(outer, outerA);
    const ib = broadcastIndex(outer, outerB);
    const ao = new Int32Array(batch);
    const bo = new Int32Array(batch);
    const co = new Int32Array(batch);
    for (let i = 0; i < batch; i++) {
      ao[i] = aOff + (ia[i] as number) * m * k;
      bo[i] = bOff + (ib[i] as number) * k * n;
      co[i] = oOff + i * m * n;
    }
    addon.gemm(heap, batch, m, n, k, ta, tb, ao, bo, co);
    return out;
  };
}
