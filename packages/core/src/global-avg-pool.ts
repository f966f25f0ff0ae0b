import * as tf from '@tensorflow/tfjs';
import { ShapeError } from './errors.js';

/**
 * Global average pooling NHWC `[N, H, W, C]` → `[N, C]` (PyTorch's `adaptive_avg_pool2d(x, 1)` + flatten), with its
 * gradient as one broadcast: `dx[n, h, w, c] = dy[n, c] / (H·W)`. Autodiff through `tf.mean` builds a tensor of ones
 * the size of `x` on the JavaScript side, uploads it, multiplies and divides — two passes over `x` and an allocation;
 * here it is one `Tile` of the scaled `dy`.
 *
 * @param x - feature map `[N, H, W, C]`.
 */
export function globalAvgPool(x: tf.Tensor4D): tf.Tensor2D {
  if (x.rank !== 4) throw new ShapeError(`globalAvgPool needs an NHWC map [N, H, W, C]; got [${x.shape}].`, { expected: [-1, -1, -1, -1], actual: x.shape });
  const [n, h, w, c] = x.shape;
  const pool = tf.customGrad(((t: tf.Tensor4D) => ({
    value: tf.mean(t, [1, 2]),
    gradFunc: (dy: tf.Tensor) => tf.broadcastTo(tf.reshape(tf.mul(dy, 1 / (h * w)), [n, 1, 1, c]), [n, h, w, c]),
  })) as unknown as Parameters<typeof tf.customGrad>[0]) as (t: tf.Tensor4D) => tf.Tensor2D;
  return pool(x);
}
