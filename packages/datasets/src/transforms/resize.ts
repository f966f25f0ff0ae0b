import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '@promptkd/core';
import { bilinearMatrix } from '@promptkd/core';
import { resampleBatch } from './bilinear-matrix.js';
import type { Transform } from './transform.js';

/**
 * Bilinear resize of NHWC images to `size` = [H', W'] with half-pixel centres, i.e. PyTorch's
 * `F.interpolate(mode='bilinear', align_corners=False)` / torchvision `Resize` on tensors (no antialias;
 * use it for upsampling such as MNIST 28→32). Computed as `Ry · X · Rxᵀ` (see {@link bilinearMatrix}), so its
 * gradient is exact on every backend.
 */
export function resize(x: tf.Tensor4D, size: readonly [number, number]): tf.Tensor4D {
  const [h, w] = size;
  if (!Number.isInteger(h) || !Number.isInteger(w) || h <= 0 || w <= 0) {
    throw new ConfigError(`resize: size must be two positive integers, got [${size.join(', ')}].`, { field: 'size' });
  }
  if (x.shape[1] === h && x.shape[2] === w) return x.clone();
  return tf.tidy(() => {
    const ry = tf.tensor2d(bilinearMatrix(x.shape[1], h), [h, x.shape[1]]);
    const rx = tf.tensor2d(bilinearMatrix(x.shape[2], w), [w, x.shape[2]]);
    return resampleBatch(x, ry, rx);
  });
}

/** {@link resize} as a {@link Transform}. */
export function resizeTransform(size: readonly [number, number]): Transform {
  return (x) => resize(x, size);
}
