import * as tf from '@tensorflow/tfjs';
import { ShapeError } from './errors.js';

/**
 * Row-wise L2 normalisation `y = x / max(‖x‖₂, ε)` over the last axis, as PyTorch's `F.normalize(x, dim=-1)`, with its
 * gradient in closed form: `dx = (dy − y·Σ(dy·y)·[‖x‖₂ ≥ ε]) / max(‖x‖₂, ε)` — six kernels backward, where autodiff
 * through the norm, the maximum and the division runs about twenty-six (with their casts). CMI's contrastive head and
 * the prompt-key matching of L2P / DualPrompt / CODA-Prompt normalise this way.
 *
 * @param x - rows `[..., D]`.
 * @param eps - ε, the smallest norm divided by (PyTorch's 1e-12).
 */
export function l2Normalize<T extends tf.Tensor>(x: T, eps = 1e-12): T {
  if (x.rank < 1) throw new ShapeError(`l2Normalize needs rows along the last axis; got a scalar.`, { expected: [-1], actual: x.shape });
  const last = x.rank - 1;
  const normalize = tf.customGrad(((t: tf.Tensor, save: tf.GradSaveFunc) => {
    const n = tf.sqrt(tf.sum(tf.square(t), last, true));
    const m = tf.maximum(n, eps);
    const y = tf.div(t, m);
    // [‖x‖ ≥ ε] as tf.maximum's gradient routes it (ties to the norm)
    const mask = tf.cast(tf.greaterEqual(n, eps), 'float32');
    save([y, m, mask]);
    return {
      value: y,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [ys, ms, ks] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
        const along = tf.mul(tf.sum(tf.mul(dy, ys), last, true), ks);
        return tf.div(tf.sub(dy, tf.mul(ys, along)), ms);
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (t: tf.Tensor) => tf.Tensor;
  return normalize(x) as T;
}
