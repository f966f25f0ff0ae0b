import * as tf from '@tensorflow/tfjs';

/* The interpolation matrices are `bilinearMatrix` of @promptkd/core. */

/** `Ry · X · Rxᵀ` for every image of an NHWC batch with shared matrices (per-image ones: `separableResample` of core). Returns [N, H', W', C]. */
export function resampleBatch(x: tf.Tensor4D, ry: tf.Tensor2D, rx: tf.Tensor2D): tf.Tensor4D {
  return tf.tidy(() => {
    const [n, h, w, c] = x.shape;
    const oh = ry.shape[0];
    const ow = rx.shape[0];
    // rows: contract H.  [N,H,W,C] → [H, N·W·C]
    const xh = tf.reshape(tf.transpose(x, [1, 0, 2, 3]), [h, n * w * c]);
    const rows = tf.reshape(tf.matMul(ry, xh), [oh, n, w, c]); // [H', N, W, C]
    // cols: contract W.  → [W, H'·N·C]
    const xw = tf.reshape(tf.transpose(rows, [2, 0, 1, 3]), [w, oh * n * c]);
    const cols = tf.reshape(tf.matMul(rx, xw), [ow, oh, n, c]); // [W', H', N, C]
    return tf.transpose(cols, [2, 1, 0, 3]) as tf.Tensor4D;
  });
}
