import * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from '../wasm-backend.js';
import { floatOffset, heapF32, type NativeKernelFactory } from './heap.js';
import { addonFunction, delegate, type NativeKernel } from './native-util.js';

type BatchNormFn = (heap: Float32Array, rows: number, channels: number, xOff: number, yOff: number, eps: number, ...params: number[]) => void;

/**
 * How a batch-norm parameter maps onto the last axis of x (C channels): `1` per channel (shape `[C]`, possibly with
 * leading 1s), `0` one value, undefined otherwise (other broadcasts → fallback).
 */
function perChannel(t: tf.TensorInfo, channels: number): 0 | 1 | undefined {
  if (t.dtype !== 'float32') return undefined;
  const size = tf.util.sizeFromShape(t.shape);
  if (size === 1) return 0;
  const last = t.shape[t.shape.length - 1];
  return last === channels && size === channels ? 1 : undefined;
}

/**
 * `FusedBatchNorm` on the addon: `y = (x − mean)·scale/√(variance + ε) + offset` over the last axis of x, with
 * per-channel factors computed once. Parameters that are neither per-channel nor scalar go to the fallback.
 */
const nativeFusedBatchNorm: NativeKernelFactory = (addon, fallback): NativeKernel => {
  const run = addonFunction<BatchNormFn>(addon, 'batchNorm');
  return (args: KernelArgs) => {
    const { inputs, backend, attrs = {} } = args;
    const x = inputs.x as tf.TensorInfo;
    const n = tf.util.sizeFromShape(x.shape);
    const channels = x.shape[x.shape.length - 1];
    if (!run || x.dtype !== 'float32' || n === 0 || channels === undefined || !heapF32(backend)) return delegate(fallback, args);
    const params: number[] = [];
    const required = [inputs.mean, inputs.variance] as Array<tf.TensorInfo | undefined>;
    const optional = [inputs.offset, inputs.scale] as Array<tf.TensorInfo | undefined>;
    for (const [i, t] of [...required, ...optional].entries()) {
      if (!t) {
        if (i < 2) return delegate(fallback, args);
        params.push(-1, 0);
        continue;
      }
      const mode = perChannel(t, channels);
      if (mode === undefined) return delegate(fallback, args);
      params.push(floatOffset(backend, t), mode);
    }
    const eps = typeof attrs.varianceEpsilon === 'number' ? attrs.varianceEpsilon : 0.001;
    const out = backend.makeOutput(x.shape, 'float32');
    run(heapF32(backend) as Float32Array, n / channels, channels, floatOffset(backend, x), floatOffset(backend, out), eps, ...params);
    return out;
  };
};

/** `FusedBatchNorm` on the native addon. */
export const BATCH_NORM_KERNELS: ReadonlyMap<string, NativeKernelFactory> = new Map<string, NativeKernelFactory>([[tf.FusedBatchNorm, nativeFusedBatchNorm]]);
