import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@promptkd/core';

/**
 * A batch transform on NHWC float32 images. Pure with respect to its input (never disposes it);
 * random transforms draw every parameter from `rng`, so the same RNG state gives the same output.
 * Call inside `tf.tidy` (the loaders do).
 */
export type Transform = (x: tf.Tensor4D, rng: Rng) => tf.Tensor4D;

/** Applies transforms left to right inside one `tf.tidy` (intermediates are freed; the input is kept). */
export function compose(...transforms: readonly Transform[]): Transform {
  return (x, rng) =>
    tf.tidy(() => {
      let out = x;
      for (const t of transforms) out = t(out, rng);
      return out === x ? x.clone() : out;
    });
}
