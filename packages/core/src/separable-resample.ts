import * as tf from '@tensorflow/tfjs';

/**
 * Per-image linear resampling that is separable in height and width: `out[n] = R_y[n] · x[n] · R_x[n]ᵀ` for every
 * channel, with `R_y[n]` `[H', H]` and `R_x[n]` `[W', W]`. Crops at integer offsets (0/1 shift matrices, zero rows
 * outside the image: zero padding) and bilinear crop-and-resizes ({@link bilinearMatrix} gives their rows) are such
 * maps, so a batch of per-image views is two batched products and two transposes each way, instead of a slice, a
 * resize and a pad (the slice's gradient) per image. The matrices are constants: gradients reach `x` only.
 *
 * @param x — images `[N, H, W, C]`.
 * @param ry — `R_y`, `[N, H', H]` row-major.
 * @param rx — `R_x`, `[N, W', W]` row-major.
 * @param outHeight — H'.
 * @param outWidth — W'.
 * @returns `[N, H', W', C]`.
 */
export function separableResample(x: tf.Tensor4D, ry: Float32Array, rx: Float32Array, outHeight: number, outWidth: number): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (ry.length !== n * outHeight * h || rx.length !== n * outWidth * w) {
    throw new RangeError(`separableResample: R_y needs ${n}·${outHeight}·${h} and R_x ${n}·${outWidth}·${w} values; got ${ry.length} and ${rx.length}`);
  }
  return tf.tidy(() => {
    // along W, on the images with H and W swapped: [N, W', W] · [N, W, H·C] (no broadcast batch dimension: tfjs's cpu
    // backend pairs broadcast batches wrongly)
    const xt = tf.reshape(tf.transpose(x, [0, 2, 1, 3]), [n, w, h * c]) as tf.Tensor3D;
    const cols = tf.reshape(tf.matMul(tf.tensor3d(rx, [n, outWidth, w]), xt), [n, outWidth, h, c]);
    // along H: [N, H', H] · [N, H, W'·C]
    const back = tf.reshape(tf.transpose(cols, [0, 2, 1, 3]), [n, h, outWidth * c]) as tf.Tensor3D;
    return tf.reshape(tf.matMul(tf.tensor3d(ry, [n, outHeight, h]), back), [n, outHeight, outWidth, c]) as tf.Tensor4D;
  });
}
