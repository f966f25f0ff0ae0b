import type * as tf from '@tensorflow/tfjs';
import { QKV_ATTENTION_GRAD_KERNEL, QKV_ATTENTION_KERNEL } from '@promptkd/core';
import type { KernelArgs } from '../wasm-backend.js';
import { floatOffset, heapOf, type NativeKernelsAddon } from './heap.js';
import { addonFunction, type NativeKernel } from './native-util.js';

type QkvAttentionFn = (heap: Float32Array, n: number, h: number, l: number, d: number, ...offsetsAndScale: number[]) => void;

/** `[N, H, L, D]` of qkv `[N, L, 3D]` and the `heads` attr. */
function sizes(qkv: tf.TensorInfo, attrs: tf.NamedAttrMap | undefined): [number, number, number, number] {
  const [n, l, d3] = qkv.shape as [number, number, number];
  return [n, attrs?.heads as number, l, d3 / 3];
}

const qkvAttention = (addon: NativeKernelsAddon): NativeKernel | undefined => {
  const run = addonFunction<QkvAttentionFn>(addon, 'qkvAttention');
  if (!run) return undefined;
  return (args: KernelArgs) => {
    const { qkv } = args.inputs as { qkv: tf.TensorInfo };
    const be = args.backend;
    const [n, h, l, d] = sizes(qkv, args.attrs);
    const o = be.makeOutput([n, l, d], 'float32');
    const p = be.makeOutput([n, h, l, l], 'float32');
    if (n > 0) run(heapOf(args), n, h, l, d, floatOffset(be, qkv), floatOffset(be, o), floatOffset(be, p), args.attrs?.scale as number);
    return [o, p];
  };
};

const qkvAttentionGrad = (addon: NativeKernelsAddon): NativeKernel | undefined => {
  const run = addonFunction<QkvAttentionFn>(addon, 'qkvAttentionGrad');
  if (!run) return undefined;
  return (args: KernelArgs) => {
    const { dy, qkv, p } = args.inputs as { dy: tf.TensorInfo; qkv: tf.TensorInfo; p: tf.TensorInfo };
    const be = args.backend;
    const [n, h, l, d] = sizes(qkv, args.attrs);
    const dqkv = be.makeOutput(qkv.shape, 'float32');
    const off = (t: tf.TensorInfo) => floatOffset(be, t);
    if (n > 0) run(heapOf(args), n, h, l, d, off(dy), off(qkv), off(p), off(dqkv), args.attrs?.scale as number);
    return [dqkv];
  };
};

/**
 * `@promptkd/core`'s self-attention from a packed qkv tensor and its gradient, added to the wasm backend with the
 * native addon (`qkvAttention()` uses them when the active backend registers both).
 */
export const QKV_ATTENTION_KERNELS: ReadonlyMap<string, (addon: NativeKernelsAddon) => NativeKernel | undefined> = new Map([
  [QKV_ATTENTION_KERNEL, qkvAttention],
  [QKV_ATTENTION_GRAD_KERNEL, qkvAttentionGrad],
]);
