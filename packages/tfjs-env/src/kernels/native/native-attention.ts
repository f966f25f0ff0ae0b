import type * as tf from '@tensorflow/tfjs';
import { ATTENTION_GRAD_KERNEL, ATTENTION_KERNEL } from '@promptkd/core';
import type { KernelArgs } from '../wasm-backend.js';
import { floatOffset, heapOf, type NativeKernelsAddon } from './heap.js';
import { addonFunction, type NativeKernel } from './native-util.js';

type AttentionFn = (heap: Float32Array, n: number, h: number, lq: number, lk: number, d: number, ...offsetsAndScale: number[]) => void;

/** `[N, H, Lq, Lk, D]` of q `[N, Lq, D]`, k `[N, Lk, D]` and the `heads` attr. */
function sizes(q: tf.TensorInfo, k: tf.TensorInfo, attrs: tf.NamedAttrMap | undefined): [number, number, number, number, number] {
  const [n, lq, d] = q.shape as [number, number, number];
  return [n, attrs?.heads as number, lq, k.shape[1] as number, d];
}

const attention = (addon: NativeKernelsAddon): NativeKernel | undefined => {
  const run = addonFunction<AttentionFn>(addon, 'attention');
  if (!run) return undefined;
  return (args: KernelArgs) => {
    const { q, k, v } = args.inputs as { q: tf.TensorInfo; k: tf.TensorInfo; v: tf.TensorInfo };
    const be = args.backend;
    const [n, h, lq, lk, d] = sizes(q, k, args.attrs);
    const o = be.makeOutput([n, lq, d], 'float32');
    const p = be.makeOutput([n, h, lq, lk], 'float32');
    if (n > 0) run(heapOf(args), n, h, lq, lk, d, floatOffset(be, q), floatOffset(be, k), floatOffset(be, v), floatOffset(be, o), floatOffset(be, p), args.attrs?.scale as number);
    return [o, p];
  };
};

const attentionGrad = (addon: NativeKernelsAddon): NativeKernel | undefined => {
  const run = addonFunction<AttentionFn>(addon, 'attentionGrad');
  if (!run) return undefined;
  return (args: KernelArgs) => {
    const { dy, q, k, v, p } = args.inputs as { dy: tf.TensorInfo; q: tf.TensorInfo; k: tf.TensorInfo; v: tf.TensorInfo; p: tf.TensorInfo };
    const be = args.backend;
    const [n, h, lq, lk, d] = sizes(q, k, args.attrs);
    const [dq, dk, dv] = [be.makeOutput(q.shape, 'float32'), be.makeOutput(k.shape, 'float32'), be.makeOutput(v.shape, 'float32')];
    const off = (t: tf.TensorInfo) => floatOffset(be, t);
    if (n > 0) run(heapOf(args), n, h, lq, lk, d, off(dy), off(q), off(k), off(v), off(p), off(dq), off(dk), off(dv), args.attrs?.scale as number);
    return [dq, dk, dv];
  };
};

/**
 * `@promptkd/core`'s fused scaled dot-product attention and its gradient, added to the wasm backend with the native
 * addon (`scaledDotAttention()` uses them when the active backend registers both).
 */
export const ATTENTION_KERNELS: ReadonlyMap<string, (addon: NativeKernelsAddon) => NativeKernel | undefined> = new Map([
  [ATTENTION_KERNEL, attention],
  [ATTENTION_GRAD_KERNEL, attentionGrad],
]);
