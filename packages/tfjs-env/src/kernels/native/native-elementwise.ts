import * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from '../wasm-backend.js';
import { floatOffset, heapF32, type NativeKernelFactory } from './heap.js';
import { BATCH_NORM_KERNELS } from './native-batch-norm.js';
import { LAYOUT_KERNELS } from './native-layout.js';
import { REDUCE_KERNELS } from './native-reduce.js';
import { addonFunction, delegate, type NativeKernel } from './native-util.js';

/** The addon's `unary` (native/elementwise.c). */
export type UnaryFn = (heap: Float32Array, op: number, n: number, xOff: number, yOff: number, alpha: number) => void;
/** The addon's `binary` and `compare`. */
export type BinaryFn = (
  heap: Float32Array,
  op: number,
  outer: number,
  inner: number,
  aOff: number,
  aMode: number,
  bOff: number,
  bMode: number,
  yOff: number,
) => void;

/** Op codes of the addon's `unary` (native/elementwise.c). */
const UNARY_OPS: ReadonlyArray<readonly [string, number]> = [
  [tf.Neg, 0],
  [tf.Exp, 1],
  [tf.Erf, 2],
  [tf.Sqrt, 3],
  [tf.Square, 4],
  [tf.Relu, 5],
  [tf.Step, 6],
  [tf.Rsqrt, 7],
  [tf.Log, 8],
  [tf.Sigmoid, 9],
  [tf.Tanh, 10],
  [tf.Abs, 11],
  [tf.Reciprocal, 12],
  [tf.LeakyRelu, 13],
];

/** Op codes of the addon's `binary`. */
const BINARY_OPS: ReadonlyArray<readonly [string, number]> = [
  [tf.Add, 0],
  [tf.Sub, 1],
  [tf.Multiply, 2],
  [tf.RealDiv, 3],
  [tf.Maximum, 4],
  [tf.Minimum, 5],
  [tf.SquaredDifference, 6],
];

/** The addon's op code of a unary or binary tfjs kernel, by kernel name (for kernels that call the addon directly). */
export const ADDON_OP: Readonly<Record<string, number>> = Object.fromEntries([...UNARY_OPS, ...BINARY_OPS]);

/** Op codes of the addon's `compare` (float32 operands, a bool output). */
const COMPARISON_OPS: ReadonlyArray<readonly [string, number]> = [
  [tf.Equal, 0],
  [tf.NotEqual, 1],
  [tf.Less, 2],
  [tf.LessEqual, 3],
  [tf.Greater, 4],
  [tf.GreaterEqual, 5],
];

/** How an operand varies over the output collapsed to `[outer, inner]` (the addon's mode codes). */
export const BroadcastMode = { Full: 0, Outer: 1, Inner: 2, Scalar: 3 } as const;
/** One of the {@link BroadcastMode} codes. */
export type BroadcastMode = (typeof BroadcastMode)[keyof typeof BroadcastMode];

/** An element-wise binary op's output collapsed to `[outer, inner]`, and how each operand maps onto it. */
export interface CollapsedBroadcast {
  readonly outer: number;
  readonly inner: number;
  readonly a: BroadcastMode;
  readonly b: BroadcastMode;
}

function modeAt(shape: readonly number[], out: readonly number[], k: number): BroadcastMode | undefined {
  const r = out.length;
  const pad = r - shape.length;
  let size = 1;
  for (const d of shape) size *= d;
  if (size === 1) return BroadcastMode.Scalar;
  let leadEq = true;
  let leadOne = true;
  let trailEq = true;
  let trailOne = true;
  for (let i = 0; i < r; i++) {
    const d = i < pad ? 1 : (shape[i - pad] as number);
    const o = out[i] as number;
    if (i < k) {
      leadEq &&= d === o;
      leadOne &&= d === 1;
    } else {
      trailEq &&= d === o;
      trailOne &&= d === 1;
    }
  }
  if (leadEq && trailEq) return BroadcastMode.Full;
  if (leadEq && trailOne) return BroadcastMode.Outer;
  if (leadOne && trailEq) return BroadcastMode.Inner;
  return undefined;
}

/**
 * Splits the output of `a op b` into `[outer, inner]` (at the first axis where it works, so `inner` is as long as
 * possible) such that each operand is full, varies only over `outer`, only over `inner`, or is a scalar: equal
 * shapes, `[..., C] op [C]`, `[N, 1] op [N, C]`, scalars. Undefined for other broadcasts (e.g. `[A, 1, C] op [A, B, C]`).
 */
export function collapseBroadcast(aShape: readonly number[], bShape: readonly number[], outShape: readonly number[]): CollapsedBroadcast | undefined {
  for (let k = 0; k <= outShape.length; k++) {
    const a = modeAt(aShape, outShape, k);
    const b = modeAt(bShape, outShape, k);
    if (a === undefined || b === undefined) continue;
    let outer = 1;
    let inner = 1;
    outShape.forEach((d, i) => {
      if (i < k) outer *= d;
      else inner *= d;
    });
    return { outer, inner, a, b };
  }
  return undefined;
}

/** {@link collapseBroadcast} of the trailing axes, repeated over leading axes on which both operands equal the output. */
export interface SplitBroadcast {
  /** Product of the leading axes: the collapsed op runs once per entry. */
  readonly count: number;
  /** Elements of a, of b and of the output per leading entry. */
  readonly aStride: number;
  readonly bStride: number;
  readonly outStride: number;
  readonly c: CollapsedBroadcast;
}

/**
 * Broadcasts {@link collapseBroadcast} leaves out, when both operands have the output's leading axes: `[A, 1, C] op
 * [A, B, C]` is A ops of `[C] op [B, C]` (the gradient of a per-image mean, `[N, 1, 1, C] · [N, H, W, C]`, which the
 * wasm kernel's generic broadcast took 2.7 ms for at [32, 16, 16, 64]).
 */
export function splitBroadcast(aShape: readonly number[], bShape: readonly number[], outShape: readonly number[]): SplitBroadcast | undefined {
  const r = outShape.length;
  if (aShape.length !== r || bShape.length !== r) return undefined;
  const size = (s: readonly number[]) => s.reduce((x, y) => x * y, 1);
  for (let k = 1; k < r; k++) {
    if (aShape[k - 1] !== outShape[k - 1] || bShape[k - 1] !== outShape[k - 1]) return undefined;
    const c = collapseBroadcast(aShape.slice(k), bShape.slice(k), outShape.slice(k));
    if (c) return { count: size(outShape.slice(0, k)), aStride: size(aShape.slice(k)), bStride: size(bShape.slice(k)), outStride: size(outShape.slice(k)), c };
  }
  return undefined;
}

/** A float32 unary kernel `y = f(x)` on the addon; `Step` and `LeakyRelu` pass their `alpha` attr. Other dtypes → fallback. */
function unaryKernel(op: number): NativeKernelFactory {
  return (addon, fallback): NativeKernel => {
    const run = addonFunction<UnaryFn>(addon, 'unary');
    return (args: KernelArgs) => {
      const { inputs, backend, attrs = {} } = args;
      const x = inputs.x as tf.TensorInfo;
      const n = tf.util.sizeFromShape(x.shape);
      if (!run || x.dtype !== 'float32' || n === 0 || !heapF32(backend)) return delegate(fallback, args);
      const out = backend.makeOutput(x.shape, 'float32');
      const alpha = typeof attrs.alpha === 'number' ? attrs.alpha : 0;
      run(heapF32(backend) as Float32Array, op, n, floatOffset(backend, x), floatOffset(backend, out), alpha);
      return out;
    };
  };
}

/**
 * A float32 element-wise op of two operands with the broadcasts {@link collapseBroadcast} covers, on the addon's
 * `binary` (a float32 output) or `compare` (a bool output: one byte per element, passed as a byte offset); other
 * dtypes and broadcasts → fallback.
 */
function broadcastKernel(fn: 'binary' | 'compare', op: number): NativeKernelFactory {
  const dtype = fn === 'compare' ? 'bool' : 'float32';
  // the output's offset in the addon's units: floats, or bytes for bool (floatOffset is bytes / 4)
  const unit = fn === 'compare' ? 4 : 1;
  return (addon, fallback): NativeKernel => {
    const run = addonFunction<BinaryFn>(addon, fn);
    return (args: KernelArgs) => {
      const { inputs, backend } = args;
      const a = inputs.a as tf.TensorInfo;
      const b = inputs.b as tf.TensorInfo;
      if (!run || a.dtype !== 'float32' || b.dtype !== 'float32' || !heapF32(backend)) return delegate(fallback, args);
      const outShape = tf.backend_util.assertAndGetBroadcastShape(a.shape, b.shape);
      const nonEmpty = tf.util.sizeFromShape(outShape) > 0;
      const c = nonEmpty ? collapseBroadcast(a.shape, b.shape, outShape) : undefined;
      const split = nonEmpty && !c ? splitBroadcast(a.shape, b.shape, outShape) : undefined;
      if (!c && !split) return delegate(fallback, args);
      const out = backend.makeOutput(outShape, dtype);
      const heap = heapF32(backend) as Float32Array;
      const [ao, bo, oo] = [floatOffset(backend, a), floatOffset(backend, b), unit * floatOffset(backend, out)];
      if (c) run(heap, op, c.outer, c.inner, ao, c.a, bo, c.b, oo);
      else if (split) {
        const { count, aStride, bStride, outStride, c: sc } = split;
        // the output's offset is in floats, or in bytes for bool: one unit per element either way
        for (let i = 0; i < count; i++) run(heap, op, sc.outer, sc.inner, ao + i * aStride, sc.a, bo + i * bStride, sc.b, oo + i * outStride);
      }
      return out;
    };
  };
}

/**
 * `Cast` to the tensor's own dtype shares its buffer (one more reference), as the cpu backend's does: the stock wasm
 * kernel copies it, and `tf.moments`, `tf.mean` and the gradients call such casts hundreds of times per step.
 * Real conversions go to the fallback.
 */
const nativeCast: NativeKernelFactory = (_addon, fallback): NativeKernel => {
  return (args: KernelArgs) => {
    const { inputs, backend, attrs = {} } = args;
    const x = inputs.x as tf.TensorInfo;
    if (attrs.dtype !== x.dtype || x.dtype === 'string' || x.dtype === 'complex64') return delegate(fallback, args);
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  };
};

/**
 * Element-wise, reduction, layout and batch-norm kernels of the native addon, by tfjs kernel name: float32 unary
 * maps (`Erf`, `Exp`, …), broadcasting binary ops and comparisons, `Sum`/`Mean`/`Max`/`Min`, `Transpose`/`Slice`/`SplitV`/`Concat`/
 * `Tile` as strided block copies, `FusedBatchNorm`, and a zero-copy same-dtype `Cast`. Each falls back to the
 * kernel it replaces for the cases it does not cover.
 */
export const ELEMENTWISE_KERNELS: ReadonlyMap<string, NativeKernelFactory> = new Map<string, NativeKernelFactory>([
  ...UNARY_OPS.map(([name, op]) => [name, unaryKernel(op)] as const),
  ...BINARY_OPS.map(([name, op]) => [name, broadcastKernel('binary', op)] as const),
  // float32 comparisons into bool: the stock kernels broadcast through an index per element (5 ms for the
  // [288, 288] vs [288, 1] mask of tf.max's gradient in a CMI contrastive loss)
  ...COMPARISON_OPS.map(([name, op]) => [name, broadcastKernel('compare', op)] as const),
  [tf.Cast, nativeCast],
  ...REDUCE_KERNELS,
  ...LAYOUT_KERNELS,
  ...BATCH_NORM_KERNELS,
]);
