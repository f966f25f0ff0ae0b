import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '@promptkd/core';
import type { Transform } from './transform.js';

/** Repeats a single grey channel 3 times (`x.repeat(3,1,1)` in the KiOP MNIST pipeline). RGB input is returned as a copy. */
export function greyToRgb(x: tf.Tensor4D): tf.Tensor4D {
  const c = x.shape[3];
  if (c === 3) return x.clone();
  if (c !== 1) throw new ShapeError(`greyToRgb expects 1 or 3 channels, got ${c}.`, { shape: x.shape });
  return tf.tile(x, [1, 1, 1, 3]);
}

/** {@link greyToRgb} as a {@link Transform}. */
export const greyToRgbTransform: Transform = (x) => greyToRgb(x);
