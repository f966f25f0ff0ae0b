import * as tf from '@tensorflow/tfjs';
import { Rng, type ClassifierModel, type Synthesizer } from '@promptkd/core';
import type { Augment, ImageStream } from './ports.js';

/**
 * `n` images of a bank (one draw with their own seeded stream, so no image repeats while the bank has enough, and
 * the bank's training order is left alone; augmented as for training) or of a real training stream (already
 * augmented by it), in batches of at most `batchSize`. Each batch is disposed when the loop moves on.
 */
export function* bankBatches(
  bank: Synthesizer | ImageStream,
  augment: Augment | undefined,
  options: { n: number; batchSize: number; seed: number },
): Generator<tf.Tensor4D> {
  const rng = Rng.fromSeed(options.seed);
  const drawn = 'draw' in bank ? bank.draw(options.n, rng) : undefined;
  try {
    for (let done = 0; done < options.n; done += options.batchSize) {
      const size = Math.min(options.batchSize, options.n - done);
      const raw = drawn ? tf.slice(drawn, done, size) : (bank as ImageStream).next(size);
      const x = augment ? tf.tidy(() => augment(raw, rng)) : raw;
      try {
        yield x;
      } finally {
        tf.dispose(x === raw ? [x] : [x, raw]);
      }
    }
  } finally {
    drawn?.dispose();
  }
}

/**
 * Diagnostic: the fraction of `n` bank images (or, for the real-data reference, `n` images of the real training
 * stream it trains on) ({@link bankBatches}) on which the prompted model's argmax equals the teacher's — how much of
 * what the prompt trains on it has learnt. Low agreement on its own training bank means the prompt cannot fit the
 * bank (host capacity, budget); high agreement with low test accuracy means the bank does not carry the teacher's
 * knowledge of real data (synthesis).
 */
export function bankAgreement(
  bank: Synthesizer | ImageStream,
  teacher: ClassifierModel,
  prompted: (x: tf.Tensor4D) => tf.Tensor2D,
  augment: Augment | undefined,
  options: { n: number; batchSize: number; seed: number },
): number {
  let agree = 0;
  let total = 0;
  for (const x of bankBatches(bank, augment, options)) {
    agree += tf.tidy(() =>
      tf.sum(tf.cast(tf.equal(tf.argMax(prompted(x), 1), tf.argMax(teacher.apply(x, { training: false }).logits, 1)), 'float32')).dataSync()[0]!,
    );
    total += x.shape[0];
  }
  return total === 0 ? Number.NaN : agree / total;
}
