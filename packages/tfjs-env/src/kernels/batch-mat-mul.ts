import * as tf from '@tensorflow/tfjs';
import {
  free,
  heapOffset,
  heapView,
  rawBatchMatMul,
  reshape,
  shapeBytes,
  transpose,
  type KernelArgs,
  type WasmBackend,
} from './wasm-backend.js';

/** The stock wasm `BatchMatMul`, wrapped (not replaced) by {@link batchMatMul}. */
let stock: tf.KernelFunc | undefined;

/** Remembers the stock kernel before it is replaced. @internal */
export function setStockBatchMatMul(k: tf.KernelFunc | undefined): void {
  stock = k;
}

/**
 * Below this many multiply-adds per batch entry the per-entry XNNPACK calls cost more (operator creation,
 * weight packing, JS→wasm calls) than the stock blocked loop; measured with `npm run bench -- --micro`.
 */
export const PER_BATCH_MIN_MACS = 32768;

function callStock(backend: WasmBackend, a: tf.TensorInfo, b: tf.TensorInfo): tf.TensorInfo {
  if (!stock) throw new Error('promptkd: stock BatchMatMul missing');
  return stock({ inputs: { a, b }, backend, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
}

function swapLast(rank: number): number[] {
  const perm = Array.from({ length: rank }, (_, i) => i);
  perm[rank - 2] = rank - 1;
  perm[rank - 1] = rank - 2;
  return perm;
}

/**
 * `BatchMatMul` for wasm without the slow paths. The stock kernel only uses XNNPACK for a single 2-D product
 * without transpose flags; everything else (transposeA/B, batch > 1) runs a naive blocked loop at 0.3–2 GFLOP/s.
 * This wrapper
 * 1. transposes flagged operands explicitly (wasm `Transpose`) — so TF.js's own matmul gradient, which uses the
 *    flags, gets fast too;
 * 2. folds the batch into the rows when `b` has no batch (`[B·M,K] @ [K,N]`, one XNNPACK call);
 * 3. otherwise calls XNNPACK once per batch entry on zero-copy views into the operands and the output (e.g.
 *    attention's `[B·heads, T, T]` products), when an entry has at least {@link PER_BATCH_MIN_MACS} MACs.
 * Broadcasting of batch dims follows `tf.matMul`.
 */
export function batchMatMul(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { inputs, backend, attrs = {} } = args;
  const a = inputs.a as tf.TensorInfo;
  const b = inputs.b as tf.TensorInfo;
  if (!stock) throw new Error('promptkd: stock BatchMatMul missing');
  if (a.dtype !== 'float32' || b.dtype !== 'float32') return stock(args as unknown as Parameters<tf.KernelFunc>[0]);
  const ta = attrs.transposeA === true;
  const tb = attrs.transposeB === true;
  const a2 = ta ? transpose(backend, a, swapLast(a.shape.length)) : a;
  const b2 = tb ? transpose(backend, b, swapLast(b.shape.length)) : b;
  try {
    const ra = a2.shape.length;
    const rb = b2.shape.length;
    const m = a2.shape[ra - 2] as number;
    const k = a2.shape[ra - 1] as number;
    const kb = b2.shape[rb - 2] as number;
    const n = b2.shape[rb - 1] as number;
    if (k !== kb) {
      throw new Error(
        `Error in matMul: inner shapes (${k}) and (${kb}) of Tensors with shapes ${a.shape} and ${b.shape} and ` +
          `transposeA=${ta} and transposeB=${tb} must match.`,
      );
    }
    const outerA = a2.shape.slice(0, -2);
    const outerB = b2.shape.slice(0, -2);
    const outer = tf.broadcast_util.assertAndGetBroadcastShape(outerA, outerB);
    const batch = tf.util.sizeFromShape(outer);
    const batchA = tf.util.sizeFromShape(outerA);
    const batchB = tf.util.sizeFromShape(outerB);
    const outShape = [...outer, m, n];

    if (batchB === 1 && batchA === batch) {
      // One XNNPACK product: [batch·M, K] @ [K, N].
      const aR = reshape(backend, a2, [1, batch * m, k]);
      const bR = reshape(backend, b2, [1, k, n]);
      const res = callStock(backend, aR, bR);
      free(backend, aR, bR);
      const out = reshape(backend, res, outShape);
      free(backend, res);
      return out;
    }
    const raw = rawBatchMatMul(backend);
    if (!raw || m * n * k < PER_BATCH_MIN_MACS) {
      const aR = reshape(backend, a2, [batchA, m, k]);
      const bR = reshape(backend, b2, [batchB, k, n]);
      let res: tf.TensorInfo;
      if (batchA === batchB || batchA === 1 || batchB === 1) {
        res = stock({ inputs: { a: aR, b: bR }, backend, attrs: { transposeA: false, transposeB: false } }) as tf.TensorInfo;
      } else {
        free(backend, aR, bR);
        return stock(args as unknown as Parameters<tf.KernelFunc>[0]);
      }
      free(backend, aR, bR);
      const out = reshape(backend, res, outShape);
      free(backend, res);
      return out;
    }
    return perBatch(backend, raw, a2, b2, outer, m, k, n);
  } finally {
    if (ta) free(backend, a2);
    if (tb) free(backend, b2);
  }
}

/** Index of each output batch entry in a (broadcast) operand's batch. */
export function broadcastIndex(outer: number[], operandOuter: number[]): Int32Array {
  const batch = tf.util.sizeFromShape(outer);
  const idx = new Int32Array(batch);
  const rank = outer.length;
  const padded = [...Array(rank - operandOuter.length).fill(1), ...operandOuter] as number[];
  const strides = new Array<number>(rank).fill(0);
  let acc = 1;
  for (let i = rank - 1; i >= 0; i--) {
    strides[i] = (padded[i] as number) === 1 ? 0 : acc;
    acc *= padded[i] as number;
  }
  for (let flat = 0; flat < batch; flat++) {
    let rem = flat;
    let j = 0;
    for (let i = rank - 1; i >= 0; i--) {
      const dim = outer[i] as number;
      const c = rem % dim;
      rem = (rem - c) / dim;
      j += c * (strides[i] as number);
    }
    idx[flat] = j;
  }
  return idx;
}

function perBatch(
  backend: WasmBackend,
  raw: (...a: unknown[]) => void,
  a: tf.TensorInfo,
  b: tf.TensorInfo,
  outer: number[],
  m: number,
  k: number,
  n: number,
): tf.TensorInfo {
  const batch = tf.util.sizeFromShape(outer);
  const out = backend.makeOutput([...outer, m, n], 'float32');
  const aOff = heapOffset(backend, a);
  const bOff = heapOffset(backend, b);
  const oOff = heapOffset(backend, out);
  const ia = broadcastIndex(outer, a.shape.slice(0, -2));
  const ib = broadcastIndex(outer, b.shape.slice(0, -2));
  const aShape = shapeBytes([1, m, k]);
  const bShape = shapeBytes([1, k, n]);
  for (let i = 0; i < batch; i++) {
    const av = heapView(backend, m * k, aOff + (ia[i] as number) * m * k * 4);
    const bv = heapView(backend, k * n, bOff + (ib[i] as number) * k * n * 4);
    const ov = heapView(backend, m * n, oOff + i * m * n * 4);
    try {
      raw(av.id, aShape, 3, bv.id, bShape, 3, 0, 0, ov.id);
    } finally {
      av.release();
      bv.release();
      ov.release();
    }
  }
  return out;
}
