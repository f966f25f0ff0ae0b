import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@promptkd/core';

/**
 * Differentiable per-sample horizontal flip: sample i is mirrored when `flips[i]`.
 * Implemented as x·(1−m) + reverse_W(x)·m so gradients flow to x (kornia `RandomHorizontalFlip`).
 */
export function horizontalFlip(x: tf.Tensor4D, flips: readonly boolean[]): tf.Tensor4D {
  if (!flips.some(Boolean)) return tf.clone(x);
  if (flips.every(Boolean)) return tf.reverse(x, 2);
  return tf.tidy(() => {
    const m = tf.tensor4d(flips.map((f) => (f ? 1 : 0)), [flips.length, 1, 1, 1]);
    return tf.add(tf.mul(x, tf.sub(1, m)), tf.mul(tf.reverse(x, 2), m)) as tf.Tensor4D;
  });
}

/** Draws one flip decision per sample with probability p (default 0.5). */
export function sampleFlips(n: number, rng: Rng, p = 0.5): boolean[] {
  return Array.from({ length: n }, () => rng.random() < p);
}
