import * as tf from '@tensorflow/tfjs';
import { runOnCpu, type KernelArgs } from './wasm-backend.js';

/**
 * `Einsum` for wasm: a cpu fallback (inputs copied to the cpu backend, its kernel run, output copied back).
 * Correct but slow (cpu speed plus two copies); prefer `tf.matMul` with explicit reshapes in hot paths.
 */
export function einsum(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  return runOnCpu(tf.Einsum, args.inputs, args.backend, args.attrs);
}
