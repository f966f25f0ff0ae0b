import * as tf from '@tensorflow/tfjs';
import { Rng, type Synthesizer } from '@promptkd/core';
import type { Augment, ImageStream } from './ports.js';

/**
 * A data bank as a stream of training batches: samples from the synthesizer's image bank and applies the
 * consumer's augmentation (the reference reloads bank images through the dataset's train transform).
 */
export function bankStream(synthesizer: Synthesizer, rng: Rng, augment?: Augment): ImageStream {
  return {
    reseed(seed) {
      rng = Rng.fromSeed(seed);
    },
    next(batchSize) {
      const x = synthesizer.sample(batchSize, rng);
      if (!augment) return x;
      const out = tf.tidy(() => augment(x, rng));
      x.dispose();
      return out;
    },
  };
}
