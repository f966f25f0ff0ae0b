import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@promptkd/core';

/** Per-sample top-left corner of a crop in the padded image. */
export interface CropOffset {
  readonly top: number;
  readonly left: number;
}

/** Draws per-sample offsets in [0, 2·padding] for {@link randomCropWithPadding}. */
export function sampleCropOffsets(n: number, padding: number, rng: Rng): CropOffset[] {
  return Array.from({ length: n }, () => ({ top: rng.int(0, 2 * padding), left: rng.int(0, 2 * padding) }));
}

/**
 * Differentiable random crop with zero padding (kornia `RandomCrop(size, padding)`, the CMI "global view"):
 * pad H and W by `padding` with zeros, then crop an H×W window at each sample's own offset.
 *
 * @param offsets — one offset per sample in [0, 2·padding]; draw them with {@link sampleCropOffsets}.
 */
export function randomCropWithPadding(x: tf.Tensor4D, padding: number, offsets: readonly CropOffset[]): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (offsets.length !== n) throw new RangeError(`randomCropWithPadding: ${offsets.length} offsets for ${n} images`);
  return tf.tidy(() => {
    const padded = tf.pad(x, [[0, 0], [padding, padding], [padding, padding], [0, 0]]);
    // One image per slice: a slice's gradient pads to its input, so slicing the whole batch would pad n full-batch
    // tensors in the backward pass; the split's gradient is one concat.
    const images = n === 1 ? [padded] : tf.split(padded, n, 0);
    const crops = offsets.map((o, i) => tf.slice(images[i] as tf.Tensor4D, [0, o.top, o.left, 0], [1, h, w, c]));
    return (crops.length === 1 ? crops[0] : tf.concat(crops, 0)) as tf.Tensor4D;
  });
}
