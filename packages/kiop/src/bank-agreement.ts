import * as tf from '@tensorflow/tfjs';
import { Rng, type ClassifierModel, type Synthesizer } from '@promptkd/core';
import type { Augment, ImageStream } from './ports.js';

/**
 * Diagnostic: the fraction of `n` bank images (or, for the real-data reference, `n` images of the real training
 * stream it trains on, already augmented by the stream) (sampled with their own seeded stream, augmented as for training)
 * on which the prompted model's argmax equals the teacher's — how much of what the prompt trains on it has learnt.
 * Low agreement on its own training bank means the prompt cannot fit the bank (host capacity, budget); high agreement
 * with low test accuracy means the bank does not carry the teacher's knowledge of real data (synthesis).
 */
export function bankAgreement(
  bank: Synthesizer | ImageStream,
  teacher: ClassifierModel,
  prompted: (x: tf.Tensor4D) => tf.Tensor2D,
  augment: Augment | undefined,
  options: { n: number; batchSize: number; seed: number },
): number {
  const rng = Rng.fromSeed(options.seed);
  const draw = 'sample' in bank ? (n: number) => bank.sample(n, rng) : (n: number) => bank.next(n);
  let agree = 0;
  let total = 0;
  for (let done = 0; done < options.n; done += options.batchSize) {
    const raw = draw(Math.min(options.batchSize, options.n - done));
    const x = augment ? tf.tidy(() => augment(raw, rng)) : raw;
    agree += tf.tidy(() =>
      tf.sum(tf.cast(tf.equal(tf.argMax(prompted(x), 1), tf.argMax(teacher.apply(x, { training: false }).logits, 1)), 'float32')).dataSync()[0]!,
    );
    total += x.shape[0];
    tf.dispose(x === raw ? [x] : [x, raw]);
  }
  return total === 0 ? Number.NaN : agree / total;
}
