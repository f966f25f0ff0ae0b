import * as tf from '@tensorflow/tfjs';

/**
 * DeepInversion's image prior as CMI's `get_image_prior_losses` computes it: the sum over four neighbour
 * directions (right, down, and both diagonals) of the mean absolute difference (an anisotropic L1 total variation).
 *
 * @param x — images [N, H, W, C] (the reference applies it to the normalised inputs).
 */
export function totalVariationLoss(x: tf.Tensor4D): tf.Scalar {
  return tf.tidy(() => {
    const [, h, w] = x.shape;
    const s = (y0: number, x0: number, hh: number, ww: number): tf.Tensor => tf.slice(x, [0, y0, x0, 0], [-1, hh, ww, -1]);
    const d1 = tf.sub(s(0, 0, h, w - 1), s(0, 1, h, w - 1)); // horizontal
    const d2 = tf.sub(s(0, 0, h - 1, w), s(1, 0, h - 1, w)); // vertical
    const d3 = tf.sub(s(1, 0, h - 1, w - 1), s(0, 1, h - 1, w - 1)); // anti-diagonal
    const d4 = tf.sub(s(0, 0, h - 1, w - 1), s(1, 1, h - 1, w - 1)); // diagonal
    return tf.addN([d1, d2, d3, d4].map((d) => tf.mean(tf.abs(d)))) as tf.Scalar;
  });
}
