import * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from './wasm-backend.js';

/** The stock wasm `Tile`, kept for string tensors. */
let stock: tf.KernelFunc | undefined;

/** Remembers the stock kernel before it is replaced. @internal */
export function setStockTile(k: tf.KernelFunc | undefined): void {
  stock = k;
}

/**
 * `Tile` for wasm with block copies. The stock kernel computes every output element's source index (about
 * 200 ns/element here), and TF.js's batch-norm gradient tiles `rsqrt(var)` to the full activation shape, so on a
 * BN CNN it was the single most expensive kernel of the step. Here x's rows are copied into the first tile, then
 * every axis from the innermost out is replicated with `copyWithin` (memory-bound, a few copies per axis).
 */
export function tile(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { inputs, backend, attrs = {} } = args;
  const x = inputs.x as tf.TensorInfo;
  if (x.dtype === 'string' || x.shape.length === 0) {
    if (!stock) throw new Error('promptkd: stock Tile missing');
    return stock(args as unknown as Parameters<tf.KernelFunc>[0]);
  }
  const reps = attrs.reps as number[];
  const s = x.shape;
  const r = s.length;
  const o = s.map((d, i) => d * (reps[i] as number));
  const out = backend.makeOutput(o, x.dtype);
  const size = tf.util.sizeFromShape(o);
  if (size === 0) return out;
  const dst = backend.typedArrayFromHeap(out);
  const src = backend.typedArrayFromHeap(x);
  // block[d] = elements of one out sub-tensor at axis d (product of o[d+1..]).
  const block = new Array<number>(r).fill(1);
  for (let d = r - 2; d >= 0; d--) block[d] = (block[d + 1] as number) * (o[d + 1] as number);
  const last = s[r - 1] as number;
  const lastReps = reps[r - 1] as number;

  // Offsets in `dst` of every multi-index over axes [0, d) within the FIRST tile (indices < s).
  const firstTileOffsets = (d: number): number[] => {
    let offs = [0];
    for (let a = 0; a < d; a++) {
      const next: number[] = [];
      const step = block[a] as number;
      for (const base of offs) for (let i = 0; i < (s[a] as number); i++) next.push(base + i * step);
      offs = next;
    }
    return offs;
  };

  // 1. Rows of x into the first tile, each repeated along the last axis.
  const rowOffsets = firstTileOffsets(r - 1);
  rowOffsets.forEach((base, row) => {
    dst.set(src.subarray(row * last, (row + 1) * last), base);
    for (let filled = last; filled < last * lastReps; ) {
      const n = Math.min(filled, last * lastReps - filled);
      dst.copyWithin(base + filled, base, base + n);
      filled += n;
    }
  });
  // 2. Replicate along axes r-2 .. 0: the filled first-tile block of axis d is copied reps[d]-1 times after itself.
  for (let d = r - 2; d >= 0; d--) {
    const rep = reps[d] as number;
    if (rep === 1) continue;
    const len = (s[d] as number) * (block[d] as number);
    const total = len * rep;
    for (const base of firstTileOffsets(d)) {
      for (let filled = len; filled < total; ) {
        const n = Math.min(filled, total - filled);
        dst.copyWithin(base + filled, base, base + n);
        filled += n;
      }
    }
  }
  return out;
}
