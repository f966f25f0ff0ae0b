import type * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from './wasm-backend.js';

/** The stock wasm `Transpose`, kept for string tensors. */
let stock: tf.KernelFunc | undefined;

/** Remembers the stock kernel before it is replaced. @internal */
export function setStockTranspose(k: tf.KernelFunc | undefined): void {
  stock = k;
}

/**
 * Drops size-1 axes and merges runs of input axes that stay adjacent (and in order) in the output, so e.g.
 * `[B,T,H,D]` with perm `[0,2,1,3]` becomes `[B,T,H,D]`→ blocks of D, and `[N,H,W,C]`→`[C,H,W,N]` becomes a
 * 3-D `[N,H·W,C]` with perm `[2,1,0]`.
 */
export function simplifyPermutation(shape: readonly number[], perm: readonly number[]): { shape: number[]; perm: number[] } {
  const keep = shape.map((d) => d !== 1);
  const oldToNew = new Array<number>(shape.length).fill(-1);
  const reducedShape: number[] = [];
  shape.forEach((d, i) => {
    if (keep[i]) {
      oldToNew[i] = reducedShape.length;
      reducedShape.push(d);
    }
  });
  const reducedPerm = perm.filter((p) => keep[p]).map((p) => oldToNew[p] as number);
  // Merge: output positions j, j+1 with perm[j+1] === perm[j] + 1 form one axis.
  const groups: number[][] = [];
  for (const p of reducedPerm) {
    const last = groups[groups.length - 1];
    if (last && (last[last.length - 1] as number) + 1 === p) last.push(p);
    else groups.push([p]);
  }
  // Groups sorted by their first input axis give the merged input shape.
  const byInput = [...groups].sort((a, b) => (a[0] as number) - (b[0] as number));
  const mergedShape = byInput.map((g) => g.reduce((acc, ax) => acc * (reducedShape[ax] as number), 1));
  const mergedPerm = groups.map((g) => byInput.indexOf(g));
  return { shape: mergedShape, perm: mergedPerm };
}

/**
 * `Transpose` for wasm. The stock kernel is fast for 2-D, batched 2-D and block-moving permutations, but rank ≥ 5
 * allocates vectors per element (~200 ns/element: ViT's `[B,T,3,H,D]` head split took 240 ms per call) and a
 * reversing 3-D permutation such as the conv-trick's `[N,H,W,C]`→`[C,H,W,N]` runs ~13 ns/element. This wrapper
 * simplifies the permutation first ({@link simplifyPermutation}); a no-op shares the buffer; rank ≤ 4 goes to the
 * stock kernel on the simplified shape, except `[2,1,0]`, which becomes a 2-D transpose plus a block move; rank ≥ 5
 * moves contiguous blocks (`TypedArray.set`) or runs a strided loop.
 */
export function transpose(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { inputs, backend, attrs = {} } = args;
  const x = inputs.x as tf.TensorInfo;
  if (!stock) throw new Error('promptkd: stock Transpose missing');
  if (x.dtype === 'string') return stock(args as unknown as Parameters<tf.KernelFunc>[0]);
  const perm = attrs.perm as number[];
  const outShape = perm.map((p) => x.shape[p] as number);
  const { shape, perm: p } = simplifyPermutation(x.shape, perm);
  const r = shape.length;
  if (p.every((v, i) => v === i)) {
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: outShape, dtype: x.dtype };
  }
  const runStock = (t: tf.TensorInfo, q: number[]): tf.TensorInfo =>
    stock!({ inputs: { x: t }, backend, attrs: { perm: q } } as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo;
  if (r === 3 && p[0] === 2 && p[1] === 1 && p[2] === 0) {
    const [a, b, c] = shape as [number, number, number];
    const t1 = runStock({ dataId: x.dataId, shape: [a, b * c], dtype: x.dtype }, [1, 0]); // [b·c, a] = [b, c, a]
    const t2 = runStock({ dataId: t1.dataId, shape: [b, c, a], dtype: x.dtype }, [1, 0, 2]); // [c, b, a]
    backend.disposeData(t1.dataId);
    return { dataId: t2.dataId, shape: outShape, dtype: x.dtype };
  }
  if (r <= 4) {
    const res = runStock({ dataId: x.dataId, shape, dtype: x.dtype }, p);
    return { dataId: res.dataId, shape: outShape, dtype: x.dtype };
  }
  const out = backend.makeOutput(outShape, x.dtype);
  const dst = backend.typedArrayFromHeap(out);
  const src = backend.typedArrayFromHeap(x);
  // Input strides of the merged axes, reordered to output order.
  const inStrides = new Array<number>(r);
  let acc = 1;
  for (let i = r - 1; i >= 0; i--) {
    inStrides[i] = acc;
    acc *= shape[i] as number;
  }
  const oShape = p.map((a) => shape[a] as number);
  const oStride = p.map((a) => inStrides[a] as number);
  if (p[r - 1] === r - 1) copyBlocks(src, dst, oShape.slice(0, -1), oStride.slice(0, -1), shape[r - 1] as number);
  else strided(src, dst, oShape, oStride);
  return out;
}

type Arr = Float32Array | Int32Array | Uint8Array;

function copyBlocks(src: Arr, dst: Arr, oShape: number[], oStride: number[], block: number): void {
  const r = oShape.length;
  const idx = new Array<number>(r).fill(0);
  const count = oShape.reduce((a, b) => a * b, 1);
  let from = 0;
  for (let k = 0, to = 0; k < count; k++, to += block) {
    dst.set(src.subarray(from, from + block), to);
    // odometer over output axes, updating the source offset incrementally
    for (let ax = r - 1; ax >= 0; ax--) {
      const i = (idx[ax] as number) + 1;
      if (i < (oShape[ax] as number)) {
        idx[ax] = i;
        from += oStride[ax] as number;
        break;
      }
      idx[ax] = 0;
      from -= (i - 1) * (oStride[ax] as number);
    }
  }
}

function strided(src: Arr, dst: Arr, oShape: number[], oStride: number[]): void {
  const r = oShape.length;
  const inner = oShape[r - 1] as number;
  const innerStride = oStride[r - 1] as number;
  const idx = new Array<number>(r - 1).fill(0);
  const outer = oShape.slice(0, -1).reduce((a, b) => a * b, 1);
  let from = 0;
  let to = 0;
  for (let k = 0; k < outer; k++) {
    let s = from;
    for (let j = 0; j < inner; j++) {
      dst[to++] = src[s] as number;
      s += innerStride;
    }
    for (let ax = r - 2; ax >= 0; ax--) {
      const i = (idx[ax] as number) + 1;
      if (i < (oShape[ax] as number)) {
        idx[ax] = i;
        from += oStride[ax] as number;
        break;
      }
      idx[ax] = 0;
      from -= (i - 1) * (oStride[ax] as number);
    }
  }
}
