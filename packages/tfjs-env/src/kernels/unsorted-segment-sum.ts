import * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from './wasm-backend.js';

/**
 * `UnsortedSegmentSum` for wasm (what makes `tf.gather` differentiable): one pass over the wasm heap,
 * `out[ids[i], ...] += x[i, ...]`; ids outside `[0, numSegments)` are dropped, as in TensorFlow.
 */
export function unsortedSegmentSum(args: KernelArgs): tf.TensorInfo {
  const { inputs, backend, attrs = {} } = args;
  const x = inputs.x as tf.TensorInfo;
  const segmentIds = inputs.segmentIds as tf.TensorInfo;
  const numSegments = attrs.numSegments as number;
  const idRank = segmentIds.shape.length;
  const inner = tf.util.sizeFromShape(x.shape.slice(idRank));
  const outShape = [numSegments, ...x.shape.slice(idRank)];
  const out = backend.makeOutput(outShape, x.dtype);
  const o = backend.typedArrayFromHeap(out);
  o.fill(0);
  const xs = backend.typedArrayFromHeap(x);
  const ids = backend.typedArrayFromHeap(segmentIds);
  const count = tf.util.sizeFromShape(segmentIds.shape);
  for (let i = 0; i < count; i++) {
    const id = ids[i] as number;
    if (!(id >= 0 && id < numSegments)) continue;
    const src = i * inner;
    const dst = id * inner;
    for (let j = 0; j < inner; j++) o[dst + j] = (o[dst + j] as number) + (xs[src + j] as number);
  }
  return out;
}
