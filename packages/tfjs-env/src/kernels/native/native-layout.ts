import * as tf from '@tensorflow/tfjs';
import { simplifyPermutation } from '../transpose.js';
import type { KernelArgs, WasmBackend } from '../wasm-backend.js';
import { floatOffset, heapF32, type NativeKernelFactory } from './heap.js';
import { addonFunction, delegate, denseStrides, type NativeKernel } from './native-util.js';

type CopyFn = (heap: Float32Array, shape: Int32Array, srcStrides: Int32Array, dstStrides: Int32Array, srcOff: number, dstOff: number) => void;

/** Largest rank the addon's strided copy takes (Tile doubles the rank). */
const MAX_COPY_RANK = 16;

/** Layout ops move 4-byte elements bit for bit, so int32 works as well as float32. */
function copyable(...ts: tf.TensorInfo[]): boolean {
  const dtype = ts[0]?.dtype;
  return (dtype === 'float32' || dtype === 'int32') && ts.every((t) => t.dtype === dtype);
}

function i32(v: readonly number[]): Int32Array {
  return Int32Array.from(v);
}

/**
 * Builds a layout kernel: `body` gets the addon's `copyStrided` and returns the output, or undefined to delegate.
 * Delegates when the addon lacks the function or the heap is not reachable.
 */
function layoutKernel(body: (copy: CopyFn, args: KernelArgs, backend: WasmBackend) => tf.TensorInfo | tf.TensorInfo[] | undefined): NativeKernelFactory {
  return (addon, fallback): NativeKernel => {
    const copy = addonFunction<CopyFn>(addon, 'copyStrided');
    return (args: KernelArgs) => {
      const res = copy && heapF32(args.backend) ? body(copy, args, args.backend) : undefined;
      return res ?? delegate(fallback, args);
    };
  };
}

/** `Transpose`: a no-op permutation (after dropping size-1 axes) shares the buffer; others are one strided copy. */
const nativeTranspose = layoutKernel((copy, { inputs, attrs = {} }, backend) => {
  const x = inputs.x as tf.TensorInfo;
  const perm = attrs.perm as number[];
  if (!copyable(x) || perm.length > MAX_COPY_RANK) return undefined;
  const outShape = perm.map((p) => x.shape[p] as number);
  const { perm: p } = simplifyPermutation(x.shape, perm);
  if (p.every((v, i) => v === i)) {
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: outShape, dtype: x.dtype };
  }
  const out = backend.makeOutput(outShape, x.dtype);
  if (tf.util.sizeFromShape(outShape) === 0) return out;
  const xs = denseStrides(x.shape);
  const heap = heapF32(backend) as Float32Array;
  copy(heap, i32(outShape), i32(perm.map((q) => xs[q] as number)), i32(denseStrides(outShape)), floatOffset(backend, x), floatOffset(backend, out));
  return out;
});

/** `Slice`: one strided copy read in place from x (the stock kernel copies all of x out of the heap first). */
const nativeSlice = layoutKernel((copy, { inputs, attrs = {} }, backend) => {
  const x = inputs.x as tf.TensorInfo;
  if (!copyable(x) || x.shape.length > MAX_COPY_RANK) return undefined;
  const [begin, size] = tf.slice_util.parseSliceParams(x, attrs.begin as number[], attrs.size as number[]) as [number[], number[]];
  const out = backend.makeOutput(size, x.dtype);
  if (tf.util.sizeFromShape(size) === 0) return out;
  const xs = denseStrides(x.shape);
  const from = begin.reduce((acc, b, i) => acc + b * (xs[i] as number), 0);
  const heap = heapF32(backend) as Float32Array;
  copy(heap, i32(size), i32(xs), i32(denseStrides(size)), floatOffset(backend, x) + from, floatOffset(backend, out));
  return out;
});

/**
 * `SplitV`: one strided copy per piece. The stock kernel calls the stock `Slice` directly — not the registered
 * one — and that copies the WHOLE input out of the heap for every piece (~8 ms per ViT q/k/v split).
 */
const nativeSplitV = layoutKernel((copy, { inputs, attrs = {} }, backend) => {
  const x = inputs.x as tf.TensorInfo;
  if (!copyable(x) || x.shape.length > MAX_COPY_RANK) return undefined;
  const axis = tf.util.parseAxisParam(attrs.axis as number, x.shape)[0] as number;
  const sizes = tf.backend_util.prepareSplitSize(x, attrs.numOrSizeSplits as number | number[], axis);
  const shapes = sizes.map((s) => x.shape.map((d, i) => (i === axis ? s : d)));
  const outs = shapes.map((s) => backend.makeOutput(s, x.dtype));
  const heap = heapF32(backend) as Float32Array;
  const xs = denseStrides(x.shape);
  const xOff = floatOffset(backend, x);
  let at = 0;
  outs.forEach((out, k) => {
    const shape = shapes[k] as number[];
    if (tf.util.sizeFromShape(shape) > 0) {
      copy(heap, i32(shape), i32(xs), i32(denseStrides(shape)), xOff + at * (xs[axis] as number), floatOffset(backend, out));
    }
    at += sizes[k] as number;
  });
  return outs;
});

/** `Concat`: one strided copy per non-empty input into its slab of the output. */
const nativeConcat = layoutKernel((copy, { inputs, attrs = {} }, backend) => {
  const list = (Array.isArray(inputs) ? inputs : Object.values(inputs)) as tf.TensorInfo[];
  const first = list[0];
  if (!first || !copyable(...list) || first.shape.length > MAX_COPY_RANK) return undefined;
  const axis = tf.util.parseAxisParam(attrs.axis as number, first.shape)[0] as number;
  const shapes = list.map((t) => t.shape);
  tf.backend_util.assertParamsConsistent(shapes, axis);
  const outShape = tf.backend_util.computeOutShape(shapes, axis);
  const parts = list.filter((t) => tf.util.sizeFromShape(t.shape) > 0);
  if (parts.length < 2) return undefined;
  const out = backend.makeOutput(outShape, first.dtype);
  const heap = heapF32(backend) as Float32Array;
  const os = denseStrides(outShape);
  const oOff = floatOffset(backend, out);
  let at = 0;
  for (const t of list) {
    if (tf.util.sizeFromShape(t.shape) > 0) {
      copy(heap, i32(t.shape), i32(denseStrides(t.shape)), i32(os), floatOffset(backend, t), oOff + at * (os[axis] as number));
    }
    at += t.shape[axis] as number;
  }
  return out;
});

/** `Tile`: a strided copy over `[reps₀, x₀, reps₁, x₁, …]` whose rep axes read x with stride 0. */
const nativeTile = layoutKernel((copy, { inputs, attrs = {} }, backend) => {
  const x = inputs.x as tf.TensorInfo;
  const reps = attrs.reps as number[];
  const r = x.shape.length;
  if (!copyable(x) || reps.length !== r || 2 * r > MAX_COPY_RANK) return undefined;
  const outShape = x.shape.map((d, i) => d * (reps[i] as number));
  const out = backend.makeOutput(outShape, x.dtype);
  if (tf.util.sizeFromShape(outShape) === 0) return out;
  const xs = denseStrides(x.shape);
  const os = denseStrides(outShape);
  const shape: number[] = [];
  const src: number[] = [];
  const dst: number[] = [];
  for (let i = 0; i < r; i++) {
    const d = x.shape[i] as number;
    shape.push(reps[i] as number, d);
    src.push(0, xs[i] as number);
    dst.push(d * (os[i] as number), os[i] as number);
  }
  const heap = heapF32(backend) as Float32Array;
  copy(heap, i32(shape), i32(src), i32(dst), floatOffset(backend, x), floatOffset(backend, out));
  return out;
});

/**
 * `Reverse`: one strided copy reading the reversed axes backwards (negative source strides, from their last
 * element). The stock wasm kernel computes an index per element (~40 ns each: 3.8 ms for the `[32, 32, 32, 3]`
 * horizontal flip of a KiOP synthesis batch). An addon built before negative strides were allowed throws: then the
 * fallback runs.
 */
const nativeReverse = layoutKernel((copy, { inputs, attrs = {} }, backend) => {
  const x = inputs.x as tf.TensorInfo;
  if (!copyable(x) || x.shape.length > MAX_COPY_RANK || x.shape.length === 0) return undefined;
  const dims = tf.util.parseAxisParam(attrs.dims as number | number[], x.shape);
  const out = backend.makeOutput(x.shape, x.dtype);
  if (tf.util.sizeFromShape(x.shape) === 0) return out;
  const xs = denseStrides(x.shape);
  let from = floatOffset(backend, x);
  const src = xs.map((st, i) => {
    if (!dims.includes(i)) return st;
    from += ((x.shape[i] as number) - 1) * st;
    return -st;
  });
  try {
    copy(heapF32(backend) as Float32Array, i32(x.shape), i32(src), i32(xs), from, floatOffset(backend, out));
  } catch {
    backend.disposeData(out.dataId);
    return undefined;
  }
  return out;
});

/**
 * `PadV2` (constant padding): the output filled with the constant, then x copied into it by one strided copy. The
 * stock kernel took 1.45 ms to pad a [32, 36, 36, 3] batch to 64 × 64 (a KiOP prompt canvas).
 */
const nativePadV2 = layoutKernel((copy, { inputs, attrs = {} }, backend) => {
  const x = inputs.x as tf.TensorInfo;
  const paddings = attrs.paddings as Array<[number, number]>;
  const value = (attrs.constantValue as number | undefined) ?? 0;
  const rank = x.shape.length;
  if (!copyable(x) || rank === 0 || rank > MAX_COPY_RANK || paddings.length !== rank || paddings.some(([a, b]) => a < 0 || b < 0)) return undefined;
  const outShape = x.shape.map((d, i) => d + (paddings[i] as [number, number])[0] + (paddings[i] as [number, number])[1]);
  const out = backend.makeOutput(outShape, x.dtype);
  const n = tf.util.sizeFromShape(outShape);
  if (n === 0) return out;
  const heap = heapF32(backend) as Float32Array;
  const o = floatOffset(backend, out);
  const view = x.dtype === 'int32' ? new Int32Array(heap.buffer, heap.byteOffset, heap.length) : heap;
  view.fill(value, o, o + n);
  if (tf.util.sizeFromShape(x.shape) === 0) return out;
  const os = denseStrides(outShape);
  const start = paddings.reduce((acc, [before], i) => acc + before * (os[i] as number), 0);
  copy(heap, i32(x.shape), i32(denseStrides(x.shape)), i32(os), floatOffset(backend, x), o + start);
  return out;
});

/**
 * `Transpose`, `Slice`, `SplitV`, `Concat`, `Tile`, `Reverse` and `PadV2` (float32 and int32) as strided block copies on
 * the addon: contiguous runs are memcpy'd, transposes go through cache tiles, large copies use the addon's threads.
 */
export const LAYOUT_KERNELS: ReadonlyMap<string, NativeKernelFactory> = new Map<string, NativeKernelFactory>([
  [tf.PadV2, nativePadV2],
  [tf.Transpose, nativeTranspose],
  [tf.Slice, nativeSlice],
  [tf.SplitV, nativeSplitV],
  [tf.Concat, nativeConcat],
  [tf.Tile, nativeTile],
  [tf.Reverse, nativeReverse],
]);
