import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError, type Rng } from '@promptkd/core';
import type { Transform } from './transform.js';

/** Flips image n left↔right where `flip[n]` is true. Differentiable (reverse + select). */
export function flipWhere(x: tf.Tensor4D, flip: readonly boolean[]): tf.Tensor4D {
  if (flip.length !== x.shape[0]) throw new ShapeError(`flipWhere: ${flip.length} flags for a batch of ${x.shape[0]}.`);
  if (!flip.some(Boolean)) return x.clone();
  return tf.tidy(() => {
    const mask = tf.tensor1d(flip.map((f) => (f ? 1 : 0)), 'bool');
    // tf.where needs a condition broadcastable to x: reshape to [N,1,1,1] and broadcast explicitly.
    const cond = tf.broadcastTo(mask.reshape([x.shape[0], 1, 1, 1]), x.shape);
    return tf.where(cond, tf.reverse(x, 2), x);
  });
}

/** torchvision `RandomHorizontalFlip(p)`: each image is flipped with probability `p` (default 0.5). */
export function randomHorizontalFlip(x: tf.Tensor4D, rng: Rng, p = 0.5): tf.Tensor4D {
  if (!(p >= 0 && p <= 1)) throw new ConfigError(`randomHorizontalFlip: p must be in [0, 1], got ${p}.`);
  return flipWhere(x, Array.from({ length: x.shape[0] }, () => rng.random() < p));
}

/** {@link randomHorizontalFlip} as a {@link Transform}. */
export function horizontalFlipTransform(p = 0.5): Transform {
  return (x, rng) => randomHorizontalFlip(x, rng, p);
}
