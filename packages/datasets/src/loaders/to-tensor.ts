import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '@promptkd/core';
import { imageSize, type ImageDataset } from '../image-dataset.js';

/**
 * The images at `indices` as a float32 NHWC tensor in [0, 1] (pixel / 255) and their labels as int32.
 * Default: all images in dataset order. The caller disposes both tensors.
 */
export function toTensors(
  ds: ImageDataset,
  indices?: ArrayLike<number>,
): { x: tf.Tensor4D; y: tf.Tensor1D } {
  const idx = indices ?? Int32Array.from({ length: ds.count }, (_, i) => i);
  const per = imageSize(ds);
  const n = idx.length;
  const pixels = new Float32Array(n * per);
  const labels = new Int32Array(n);
  for (let k = 0; k < n; k++) {
    const i = idx[k] as number;
    if (!Number.isInteger(i) || i < 0 || i >= ds.count) {
      throw new ConfigError(`toTensors: index ${i} is outside [0, ${ds.count}) of '${ds.name}'.`, { field: 'indices' });
    }
    const off = i * per;
    const out = k * per;
    for (let p = 0; p < per; p++) pixels[out + p] = (ds.images[off + p] as number) / 255;
    labels[k] = ds.labels[i] as number;
  }
  return {
    x: tf.tensor4d(pixels, [n, ds.height, ds.width, ds.channels], 'float32'),
    y: tf.tensor1d(labels, 'int32'),
  };
}
