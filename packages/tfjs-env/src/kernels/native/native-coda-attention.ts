import type * as tf from '@tensorflow/tfjs';
import { CODA_ATTENTION_GRAD_KERNEL, CODA_ATTENTION_KERNEL } from '@promptkd/core';
import type { KernelArgs } from '../wasm-backend.js';
import { floatOffset, heapOf, type NativeKernelsAddon } from './heap.js';
import { addonFunction, type NativeKernel } from './native-util.js';

type CodaFn = (heap: Float32Array, n: number, m: number, dq: number, e: number, ...offsets: number[]) => void;

/** `[N, M, Dq, E]` of q `[N, Dq]` and p `[M, E]`. */
const sizes = (q: tf.TensorInfo, p: tf.TensorInfo): [number, number, number, number] =>
  [q.shape[0] as number, p.shape[0] as number, q.shape[1] as number, p.shape[1] as number];

const codaAttention = (addon: NativeKernelsAddon): NativeKernel | undefined => {
  const run = addonFunction<CodaFn>(addon, 'codaAttention');
  if (!run) return undefined;
  return (args: KernelArgs) => {
    const { q, k, a, p } = args.inputs as Record<'q' | 'k' | 'a' | 'p', tf.TensorInfo>;
    const be = args.backend;
    const [n, m, dq, e] = sizes(q, p);
    const out = be.makeOutput([n, e], 'float32');
    if (n > 0) run(heapOf(args), n, m, dq, e, ...[q, k, a, p, out].map((t) => floatOffset(be, t)));
    return out;
  };
};

const codaAttentionGrad = (addon: NativeKernelsAddon): NativeKernel | undefined => {
  const run = addonFunction<CodaFn>(addon, 'codaAttentionGrad');
  if (!run) return undefined;
  return (args: KernelArgs) => {
    const { dy, q, k, a, p } = args.inputs as Record<'dy' | 'q' | 'k' | 'a' | 'p', tf.TensorInfo>;
    const be = args.backend;
    const [n, m, dq, e] = sizes(q, p);
    const grads = [q, k, a, p].map((t) => be.makeOutput(t.shape, 'float32'));
    if (n > 0) run(heapOf(args), n, m, dq, e, ...[dy, q, k, a, p, ...grads].map((t) => floatOffset(be, t)));
    else for (const g of grads.slice(1)) (be.typedArrayFromHeap(g) as Float32Array).fill(0);
    return grads;
  };
};

/**
 * `@promptkd/core`'s CODA-Prompt attention (`codaAttention()`: the prompt from a query) and its gradient, added to the
 * wasm backend with the native addon.
 */
export const CODA_ATTENTION_KERNELS: ReadonlyMap<string, (addon: NativeKernelsAddon) => NativeKernel | undefined> = new Map([
  [CODA_ATTENTION_KERNEL, codaAttention],
  [CODA_ATTENTION_GRAD_KERNEL, codaAttentionGrad],
]);
