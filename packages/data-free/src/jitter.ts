import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@promptkd/core';

/** Cyclic shift of a batch along H and W (`torch.roll`), differentiable. */
export function roll2d(x: tf.Tensor4D, dy: number, dx: number): tf.Tensor4D {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    let y: tf.Tensor4D = x;
    const sy = ((dy % h) + h) % h;
    const sx = ((dx % w) + w) % w;
    if (sy !== 0) y = tf.concat([tf.slice(y, [0, h - sy, 0, 0], [-1, sy, -1, -1]), tf.slice(y, [0, 0, 0, 0], [-1, h - sy, -1, -1])], 1);
    if (sx !== 0) y = tf.concat([tf.slice(y, [0, 0, w - sx, 0], [-1, -1, sx, -1]), tf.slice(y, [0, 0, 0, 0], [-1, -1, w - sx, -1])], 2);
    return y === x ? tf.clone(x) : y;
  });
}

/**
 * DeepInversion's batch-wide jitter and flip: roll by a random offset in [−lim·H, lim·H] × [−lim·W, lim·W]
 * (default lim = 1/8) and mirror the whole batch with probability 1/2.
 */
export function jitterAndFlip(x: tf.Tensor4D, rng: Rng, lim = 1 / 8, flip = true): tf.Tensor4D {
  const [, h, w] = x.shape;
  const ly = Math.floor(h * lim);
  const lx = Math.floor(w * lim);
  const dy = rng.int(-ly, ly);
  const dx = rng.int(-lx, lx);
  const doFlip = rng.random() > 0.5;
  return tf.tidy(() => {
    const rolled = roll2d(x, dy, dx);
    return flip && doFlip ? tf.reverse(rolled, 2) : rolled;
  });
}
