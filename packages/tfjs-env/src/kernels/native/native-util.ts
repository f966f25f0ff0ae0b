import type * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from '../wasm-backend.js';
import type { NativeKernelsAddon } from './heap.js';

/** A kernel body as the native factories return it. */
export type NativeKernel = (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

/** An addon function by name, or undefined when this build of the addon lacks it (an older build). */
export function addonFunction<F>(addon: NativeKernelsAddon, name: string): F | undefined {
  const f = addon[name];
  return typeof f === 'function' ? (f as F) : undefined;
}

/** Runs the kernel the native one replaced, with the same arguments. */
export function delegate(fallback: tf.KernelFunc, args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  return fallback(args as unknown as Parameters<tf.KernelFunc>[0]) as tf.TensorInfo | tf.TensorInfo[];
}

/** Row-major strides of `shape` in elements, the last one included (1). */
export function denseStrides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i] as number;
  }
  return s;
}
