import * as tf from '@tensorflow/tfjs';
import { ShapeError, type Normalization } from '@promptkd/core';
import type { Transform } from './transform.js';

/**
 * Per-channel statistics used by the reference code (`NORMALIZE_DICT` in KiOP/CMI). They belong to the
 * model trained on that data; models apply them, datasets deliver [0,1] pixels.
 */
export const NORMALIZATIONS = {
  cifar10: { mean: [0.4914, 0.4822, 0.4465], std: [0.2023, 0.1994, 0.201] },
  cifar100: { mean: [0.5071, 0.4867, 0.4408], std: [0.2675, 0.2565, 0.2761] },
  gtsrb: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
  mnist: { mean: [0.1307], std: [0.3081] },
  imagenet: { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] },
  none: { mean: [0], std: [1] },
} as const satisfies Record<string, Normalization>;

/**
 * `(x − mean) / std` per channel on NHWC images (torchvision `Normalize`). A one-entry mean/std is
 * broadcast over all channels. Differentiable.
 */
export function normalize(x: tf.Tensor4D, norm: Normalization): tf.Tensor4D {
  const c = x.shape[3];
  const { mean, std } = norm;
  if (mean.length !== std.length || (mean.length !== 1 && mean.length !== c)) {
    throw new ShapeError(`normalize: ${mean.length} means / ${std.length} stds for ${c} channels.`, { shape: x.shape });
  }
  if (std.some((s) => !(s > 0))) throw new ShapeError('normalize: every std must be > 0.', { std });
  return tf.tidy(() => tf.div(tf.sub(x, tf.tensor1d([...mean])), tf.tensor1d([...std])));
}

/** Inverse of {@link normalize}: `x·std + mean`. */
export function denormalize(x: tf.Tensor4D, norm: Normalization): tf.Tensor4D {
  return tf.tidy(() => tf.add(tf.mul(x, tf.tensor1d([...norm.std])), tf.tensor1d([...norm.mean])));
}

/** {@link normalize} as a {@link Transform}. */
export function normalizeTransform(norm: Normalization): Transform {
  return (x) => normalize(x, norm);
}
