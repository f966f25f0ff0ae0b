import * as tf from '@tensorflow/tfjs';

/** Runs `fn` and returns how many tensors it left behind (after awaiting it). */
export async function countTensorsDuring(fn: () => unknown): Promise<number> {
  const before = tf.memory().numTensors;
  await fn();
  return tf.memory().numTensors - before;
}

/**
 * Asserts that `fn` leaves `tf.memory().numTensors` unchanged. Run the step once before as warm-up
 * (optimizers create slots lazily) and pass `warmup: false` to check the first call as well.
 */
export async function expectNoTensorLeak(
  fn: () => unknown,
  options: { warmup?: boolean; label?: string } = {},
): Promise<void> {
  if (options.warmup ?? true) await fn();
  const leaked = await countTensorsDuring(fn);
  if (leaked !== 0) {
    throw new Error(`${options.label ?? 'function'} leaked ${leaked} tensor(s) (tf.memory().numTensors changed).`);
  }
}
