import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError, type Rng } from '@promptkd/core';
import type { Transform } from './transform.js';

/** Options of {@link randomCrop}. */
export interface RandomCropOptions {
  /** Output side(s) [H', W']; default the input size (the usual "pad then crop back" augmentation). */
  readonly size?: readonly [number, number];
  /** Zero padding added on every side before cropping (torchvision `RandomCrop(32, padding=4)`). */
  readonly padding?: number;
}

/**
 * Crops image n of `x` at (`offsets[n].y`, `offsets[n].x`) to `size`. Built from `slice` + `concat`,
 * so it is differentiable (the data-free synthesizer uses it on generated images).
 */
export function cropAt(
  x: tf.Tensor4D,
  offsets: readonly { readonly y: number; readonly x: number }[],
  size: readonly [number, number],
): tf.Tensor4D {
  const [n, h, w, c] = x.shape;
  if (offsets.length !== n) throw new ShapeError(`cropAt: ${offsets.length} offsets for a batch of ${n}.`);
  const [ch, cw] = size;
  return tf.tidy(() => {
    const parts = offsets.map((o, i) => {
      if (o.y < 0 || o.x < 0 || o.y + ch > h || o.x + cw > w) {
        throw new ShapeError(`cropAt: crop ${ch}x${cw} at (${o.y}, ${o.x}) leaves the ${h}x${w} image.`);
      }
      return tf.slice(x, [i, o.y, o.x, 0], [1, ch, cw, c]);
    });
    return parts.length === 1 ? (parts[0] as tf.Tensor4D) : tf.concat(parts, 0);
  });
}

/**
 * torchvision `RandomCrop(size, padding)`: zero-pads every side by `padding`, then crops each image at its
 * own uniformly drawn offset. Differentiable with respect to `x`.
 */
export function randomCrop(x: tf.Tensor4D, rng: Rng, options: RandomCropOptions = {}): tf.Tensor4D {
  const pad = options.padding ?? 0;
  if (!Number.isInteger(pad) || pad < 0) throw new ConfigError(`randomCrop: padding must be a non-negative integer, got ${pad}.`);
  const size = options.size ?? [x.shape[1], x.shape[2]];
  const ph = x.shape[1] + 2 * pad;
  const pw = x.shape[2] + 2 * pad;
  if (size[0] > ph || size[1] > pw) throw new ConfigError(`randomCrop: size ${size.join('x')} exceeds the padded ${ph}x${pw} image.`);
  const offsets = Array.from({ length: x.shape[0] }, () => ({ y: rng.int(0, ph - size[0]), x: rng.int(0, pw - size[1]) }));
  return tf.tidy(() => {
    const padded = pad > 0 ? tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 0]]) : x;
    return cropAt(padded, offsets, size);
  });
}

/** {@link randomCrop} as a {@link Transform}. */
export function randomCropTransform(options: RandomCropOptions): Transform {
  return (x, rng) => randomCrop(x, rng, options);
}
