import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '@promptkd/core';
import type { ImageDataset } from '../image-dataset.js';
import { greyToRgb } from '../transforms/grey-to-rgb.js';
import { resize } from '../transforms/resize.js';
import { toTensors } from './to-tensor.js';

/** Images as a model takes them: float32 NHWC in [0, 1], and their labels as plain int32 (owned by the caller). */
export interface TensorImages {
  readonly x: tf.Tensor4D;
  readonly y: Int32Array;
}

/**
 * All images of `ds` as a float32 NHWC tensor in [0, 1] at `size`×`size` with `channels` channels: bilinear
 * resize only when the size differs, grey → RGB only when a 1-channel dataset meets a 3-channel model. Labels come
 * back as an `Int32Array`. Throws {@link ConfigError} for any other channel mismatch. The caller disposes `x`.
 *
 * @example
 * ```ts
 * const { x, y } = toTensorsAt(fashionMnistTest, { size: 32, channels: 3 }); // [N, 32, 32, 3]
 * ```
 */
export function toTensorsAt(ds: ImageDataset, options: { readonly size: number; readonly channels: number }): TensorImages {
  const { size, channels } = options;
  const greyToColour = ds.channels === 1 && channels === 3;
  if (ds.channels !== channels && !greyToColour) {
    throw new ConfigError(`Dataset '${ds.name}' has ${ds.channels} channels; the backbone expects ${channels}.`, { field: 'channels' });
  }
  const { x, y } = toTensors(ds);
  const out = tf.tidy(() => {
    let t: tf.Tensor4D = x;
    if (ds.height !== size || ds.width !== size) t = resize(t, [size, size]);
    if (greyToColour) t = greyToRgb(t);
    return t === x ? x.clone() : t;
  });
  const labels = Int32Array.from(y.dataSync());
  tf.dispose([x, y]);
  return { x: out, y: labels };
}
