import type * as tf from '@tensorflow/tfjs';
import { bilinearMatrix, separableResample, type Rng } from '@promptkd/core';

/** An integer crop box (torchvision `RandomResizedCrop.get_params`). */
export interface CropBox {
  readonly top: number;
  readonly left: number;
  readonly height: number;
  readonly width: number;
}

/** Scale and aspect-ratio ranges of {@link randomResizedCrop} (CMI local view: scale [0.25, 1], ratio [3/4, 4/3]). */
export interface ResizedCropRanges {
  readonly scale?: readonly [number, number];
  readonly ratio?: readonly [number, number];
}

/**
 * Samples one crop box per image the way torchvision does: up to 10 tries of area ∈ scale·H·W and
 * log-uniform aspect ratio; otherwise a centre crop with the ratio clamped to the range.
 */
export function sampleResizedCropBoxes(n: number, height: number, width: number, rng: Rng, ranges: ResizedCropRanges = {}): CropBox[] {
  const [s0, s1] = ranges.scale ?? [0.25, 1];
  const [r0, r1] = ranges.ratio ?? [3 / 4, 4 / 3];
  const area = height * width;
  const one = (): CropBox => {
    for (let attempt = 0; attempt < 10; attempt++) {
      const target = area * (s0 + (s1 - s0) * rng.random());
      const logR = Math.log(r0) + (Math.log(r1) - Math.log(r0)) * rng.random();
      const ratio = Math.exp(logR);
      const w = Math.round(Math.sqrt(target * ratio));
      const h = Math.round(Math.sqrt(target / ratio));
      if (w > 0 && h > 0 && w <= width && h <= height) {
        return { top: rng.int(0, height - h), left: rng.int(0, width - w), height: h, width: w };
      }
    }
    const inRatio = width / height;
    let w = width;
    let h = height;
    if (inRatio < r0) h = Math.round(w / r0);
    else if (inRatio > r1) w = Math.round(h * r1);
    return { top: Math.floor((height - h) / 2), left: Math.floor((width - w) / 2), height: h, width: w };
  };
  return Array.from({ length: n }, one);
}

/**
 * Differentiable random resized crop (the CMI "local view"): each image's box is cut out and resized back to
 * H×W with bilinear interpolation (half-pixel centres, PyTorch `align_corners=False`; at the box's edges the nearest
 * pixel of the box, as resizing the cut-out box does). Computed as a {@link separableResample} with the interpolation
 * matrices of `bilinearMatrix` (@promptkd/core) instead of a slice, a resize and its gradient per image, which also
 * gives the right gradient: tfjs 4.22's `ResizeBilinearGrad` ignores half-pixel centres. Gradients reach x.
 */
export function randomResizedCrop(x: tf.Tensor4D, boxes: readonly CropBox[]): tf.Tensor4D {
  const [n, h, w] = x.shape;
  if (boxes.length !== n) throw new RangeError(`randomResizedCrop: ${boxes.length} boxes for ${n} images`);
  const ry = new Float32Array(n * h * h);
  const rx = new Float32Array(n * w * w);
  boxes.forEach((b, i) => {
    ry.set(bilinearMatrix(h, h, b.top, b.height), i * h * h);
    rx.set(bilinearMatrix(w, w, b.left, b.width), i * w * w);
  });
  return separableResample(x, ry, rx, h, w);
}
