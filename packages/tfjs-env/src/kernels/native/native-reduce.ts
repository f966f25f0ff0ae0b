import * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from '../wasm-backend.js';
import { floatOffset, heapF32, type NativeKernelFactory } from './heap.js';
import { addonFunction, delegate, type NativeKernel } from './native-util.js';

type ReduceFn = (heap: Float32Array, op: number, outer: number, r: number, inner: number, xOff: number, yOff: number) => void;

/**
 * Views a reduction of `shape` over `axes` as `[outer, r, inner]` → `[outer, inner]`, which needs the reduced axes
 * to form one block once size-1 axes are ignored: trailing axes (row sums), leading ones (column sums) or a middle
 * block. Undefined otherwise (e.g. axes `[0, 2]` of a `[2, 3, 4]` tensor).
 */
export function collapseReduction(shape: readonly number[], axes: readonly number[]): { outer: number; r: number; inner: number } | undefined {
  let phase = 0; // 0: before the reduced block, 1: inside it, 2: after it
  let outer = 1;
  let r = 1;
  let inner = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i] as number;
    if (d === 1) continue;
    if (axes.includes(i)) {
      if (phase === 2) return undefined;
      phase = 1;
      r *= d;
    } else if (phase === 0) {
      outer *= d;
    } else {
      phase = 2;
      inner *= d;
    }
  }
  return { outer, r, inner };
}

/** A float32 reduction (`op`: 0 sum, 1 mean, 2 max, 3 min) whose axes attr is `axisAttr`. */
function reduceKernel(op: number, axisAttr: 'axis' | 'reductionIndices'): NativeKernelFactory {
  return (addon, fallback): NativeKernel => {
    const run = addonFunction<ReduceFn>(addon, 'reduce');
    return (args: KernelArgs) => {
      const { inputs, backend, attrs = {} } = args;
      const x = inputs.x as tf.TensorInfo;
      if (!run || x.dtype !== 'float32' || tf.util.sizeFromShape(x.shape) === 0 || !heapF32(backend)) return delegate(fallback, args);
      const axes = tf.util.parseAxisParam(attrs[axisAttr] as number | number[], x.shape);
      const c = collapseReduction(x.shape, axes);
      if (!c) return delegate(fallback, args);
      const [reduced] = tf.backend_util.computeOutAndReduceShapes(x.shape, axes);
      const outShape = attrs.keepDims === true ? tf.backend_util.expandShapeToKeepDim(reduced, axes) : reduced;
      const out = backend.makeOutput(outShape, 'float32');
      run(heapF32(backend) as Float32Array, op, c.outer, c.r, c.inner, floatOffset(backend, x), floatOffset(backend, out));
      return out;
    };
  };
}

/**
 * `Sum`, `Mean`, `Max`, `Min` over a contiguous block of axes on the addon; each output is reduced in a fixed
 * order (blocks of the reduced axis, then the blocks in order), so results do not depend on the thread count.
 */
export const REDUCE_KERNELS: ReadonlyMap<string, NativeKernelFactory> = new Map<string, NativeKernelFactory>([
  [tf.Sum, reduceKernel(0, 'axis')],
  [tf.Mean, reduceKernel(1, 'axis')],
  [tf.Max, reduceKernel(2, 'reductionIndices')],
  [tf.Min, reduceKernel(3, 'axis')],
]);
