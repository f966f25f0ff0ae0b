import type * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError, bilinearMatrix, separableResample, type Rng } from '@promptkd/core';
import type { Transform } from './transform.js';

/** Options of {@link randomResizedCrop} (torchvision defaults). */
export interface RandomResizedCropOptions {
  /** Output [H', W']. */
  readonly size: readonly [number, number];
  /** Range of the crop area as a fraction of the image area; default [0.08, 1]. */
  readonly scale?: readonly [number, number];
  /** Range of the crop aspect ratio w/h (sampled log-uniformly); default [3/4, 4/3]. */
  readonly ratio?: readonly [number, number];
}

/** A crop box in pixels: top `y`, left `x`, height `h`, width `w`. */
export interface CropBox {
  readonly y: number;
  readonly x: number;
  readonly h: number;
  readonly w: number;
}

/**
 * torchvision `RandomResizedCrop.get_params`: up to 10 attempts of (area ~ U(scale)·H·W,
 * log-aspect ~ U(log ratio)), else a centre crop clamped to the ratio range.
 */
export function sampleResizedCropBox(
  height: number,
  width: number,
  rng: Rng,
  scale: readonly [number, number] = [0.08, 1],
  ratio: readonly [number, number] = [3 / 4, 4 / 3],
): CropBox {
  const area = height * width;
  const logLo = Math.log(ratio[0]);
  const logHi = Math.log(ratio[1]);
  for (let attempt = 0; attempt < 10; attempt++) {
    const target = area * (scale[0] + (scale[1] - scale[0]) * rng.random());
    const aspect = Math.exp(logLo + (logHi - logLo) * rng.random());
    const w = Math.round(Math.sqrt(target * aspect));
    const h = Math.round(Math.sqrt(target / aspect));
    if (w > 0 && w <= width && h > 0 && h <= height) {
      return { y: rng.int(0, height - h), x: rng.int(0, width - w), h, w };
    }
  }
  const inRatio = width / height;
  let w = width;
  let h = height;
  if (inRatio < Math.min(ratio[0], ratio[1])) h = Math.round(w / Math.min(ratio[0], ratio[1]));
  else if (inRatio > Math.max(ratio[0], ratio[1])) w = Math.round(h * Math.max(ratio[0], ratio[1]));
  return { y: Math.floor((height - h) / 2), x: Math.floor((width - w) / 2), h, w };
}

/**
 * Crops image n to `boxes[n]` and resizes it bilinearly (half-pixel centres, no antialias) to `size`: one
 * `separableResample` (@promptkd/core) with the crop folded into the interpolation matrices (`bilinearMatrix`),
 * differentiable with an exact gradient on every backend.
 */
export function cropAndResizeBoxes(x: tf.Tensor4D, boxes: readonly CropBox[], size: readonly [number, number]): tf.Tensor4D {
  const [n, h, w] = x.shape;
  if (boxes.length !== n) throw new ShapeError(`cropAndResizeBoxes: ${boxes.length} boxes for a batch of ${n}.`);
  const [oh, ow] = size;
  const ry = new Float32Array(n * oh * h);
  const rx = new Float32Array(n * ow * w);
  boxes.forEach((b, i) => {
    if (b.y < 0 || b.x < 0 || b.h <= 0 || b.w <= 0 || b.y + b.h > h || b.x + b.w > w) {
      throw new ShapeError(`cropAndResizeBoxes: box ${JSON.stringify(b)} leaves the ${h}x${w} image.`);
    }
    ry.set(bilinearMatrix(h, oh, b.y, b.h), i * oh * h);
    rx.set(bilinearMatrix(w, ow, b.x, b.w), i * ow * w);
  });
  return separableResample(x, ry, rx, oh, ow);
}

/** torchvision `RandomResizedCrop(size, scale, ratio)` with a box drawn per image. Differentiable with respect to `x`. */
export function randomResizedCrop(x: tf.Tensor4D, rng: Rng, options: RandomResizedCropOptions): tf.Tensor4D {
  const scale = options.scale ?? [0.08, 1];
  const ratio = options.ratio ?? [3 / 4, 4 / 3];
  if (!(scale[0] > 0 && scale[0] <= scale[1] && scale[1] <= 1)) throw new ConfigError(`randomResizedCrop: bad scale [${scale.join(', ')}].`);
  if (!(ratio[0] > 0 && ratio[0] <= ratio[1])) throw new ConfigError(`randomResizedCrop: bad ratio [${ratio.join(', ')}].`);
  const boxes = Array.from({ length: x.shape[0] }, () => sampleResizedCropBox(x.shape[1], x.shape[2], rng, scale, ratio));
  return cropAndResizeBoxes(x, boxes, options.size);
}

/** {@link randomResizedCrop} as a {@link Transform}. */
export function randomResizedCropTransform(options: RandomResizedCropOptions): Transform {
  return (x, rng) => randomResizedCrop(x, rng, options);
}
