import * as tf from '@tensorflow/tfjs';

/* The interpolation matrices are `bilinearMatrix` of @promptkd/core. */

/**
 * out = Ry · img · Rxᵀ for one [H, W, C] image, with Ry [H', H] and Rx [W', W] given as tensors.
 * Returns [H', W', C]. Only plain 2-D matmuls, reshapes and transposes.
 */
export function resampleImage(img: tf.Tensor3D, ry: tf.Tensor2D, rx: tf.Tensor2D): tf.Tensor3D {
  return tf.tidy(() => {
    const [h, w, c] = img.shape;
    const oh = ry.shape[0];
    const ow = rx.shape[0];
    const rows = tf.matMul(ry, tf.reshape(img, [h, w * c])); // [H', W·C]
    const byCol = tf.reshape(tf.transpose(tf.reshape(rows, [oh, w, c]), [1, 0, 2]), [w, oh * c]); // [W, H'·C]
    const cols = tf.matMul(rx, byCol); // [W', H'·C]
    return tf.transpose(tf.reshape(cols, [ow, oh, c]), [1, 0, 2]) as tf.Tensor3D;
  });
}

/** The same resampling applied to every image of an NHWC batch (shared matrices). Returns [N, H', W', C]. */
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
