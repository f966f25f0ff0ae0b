import * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from './wasm-backend.js';

/** The stock wasm `Slice`, kept for string tensors. */
let stock: tf.KernelFunc | undefined;

/** Remembers the stock kernel before it is replaced. @internal */
export function setStockSlice(k: tf.KernelFunc | undefined): void {
  stock = k;
}

/**
 * `Slice` for wasm that reads the input in place. The stock kernel first copies the WHOLE input out of the wasm
 * heap (`readSync` → a fresh ArrayBuffer) for every slice, which costs ~100 ms per 8 MB on this machine and made
 * `tf.split` (attention's q/k/v split) and every crop expensive. Here rows of the innermost axis are copied
 * straight from a heap view (`TypedArray.set`).
 */
export function slice(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { inputs, backend, attrs = {} } = args;
  const x = inputs.x as tf.TensorInfo;
  if (!stock) throw new Error('promptkd: stock Slice missing');
  if (x.dtype === 'string') return stock(args as unknown as Parameters<tf.KernelFunc>[0]);
  const [begin, size] = tf.slice_util.parseSliceParams(x, attrs.begin as number[], attrs.size as number[]) as [
    number[],
    number[],
  ];
  const out = backend.makeOutput(size, x.dtype);
  const total = tf.util.sizeFromShape(size);
  if (total === 0) return out;
  const dst = backend.typedArrayFromHeap(out);
  const src = backend.typedArrayFromHeap(x);
  const strides = tf.util.computeStrides(x.shape);
  const r = x.shape.length;
  if (r === 0) {
    dst.set(src);
    return out;
  }
  if (tf.slice_util.isSliceContinous(x.shape, begin, size)) {
    const from = tf.slice_util.computeFlatOffset(begin, strides);
    dst.set(src.subarray(from, from + total));
    return out;
  }
  const row = size[r - 1] as number;
  const rows = total / row;
  const idx = new Array<number>(r - 1).fill(0);
  let from = tf.slice_util.computeFlatOffset(begin, strides);
  for (let k = 0, to = 0; k < rows; k++, to += row) {
    dst.set(src.subarray(from, from + row), to);
    for (let ax = r - 2; ax >= 0; ax--) {
      const i = (idx[ax] as number) + 1;
      if (i < (size[ax] as number)) {
        idx[ax] = i;
        from += strides[ax] as number;
        break;
      }
      idx[ax] = 0;
      from -= (i - 1) * (strides[ax] as number);
    }
  }
  return out;
}
