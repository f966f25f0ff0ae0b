import type * as tf from '@tensorflow/tfjs';
import { separableResample, type Rng } from '@promptkd/core';

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
 * pad H and W by `padding` with zeros, then crop an H×W window at each sample's own offset. Computed as a
 * {@link separableResample} with shift matrices (two batched products each way, exact), not one slice per image.
 *
 * @param offsets — one offset per sample in [0, 2·padding]; draw them with {@link sampleCropOffsets}.
 */
export function randomCropWithPadding(x: tf.Tensor4D, padding: number, offsets: readonly CropOffset[]): tf.Tensor4D {
  const [n, h, w] = x.shape;
  if (offsets.length !== n) throw new RangeError(`randomCropWithPadding: ${offsets.length} offsets for ${n} images`);
  // window row s of sample i is image row s + top − padding: one 1 per shift-matrix row inside the image, a zero row
  // (the padding) outside; the products with 0 and 1 are exact
  const ry = new Float32Array(n * h * h);
  const rx = new Float32Array(n * w * w);
  offsets.forEach((o, i) => {
    shiftRows(ry, i * h * h, h, o.top - padding);
    shiftRows(rx, i * w * w, w, o.left - padding);
  });
  return separableResample(x, ry, rx, h, w);
}

/** Rows of the `size`×`size` matrix at `at` in m: row s has a 1 at column s + shift when that lies in [0, size). */
function shiftRows(m: Float32Array, at: number, size: number, shift: number): void {
  for (let s = 0; s < size; s++) {
    const col = s + shift;
    if (col >= 0 && col < size) m[at + s * size + col] = 1;
  }
}
