import * as tf from '@tensorflow/tfjs';

/**
 * Euclidean norm `‖x‖₂ = √(Σ x²)` over `axis` (all axes by default), as `torch.norm(x)` / `x.norm(2, dim, keepdim)`.
 * The same value and gradient (`dy · x / ‖x‖₂`) as `tf.norm(x, 'euclidean', …)`: three kernels forward (square, sum,
 * square root) that the native kernels run, where `tf.norm` computes `√(Σ |x|^2)` through `Abs` and a `Pow` with an
 * int32 exponent that stays on the slower wasm kernels; and two or three backward (a division, a reshape, a product),
 * where autodiff through the three would run eleven (the square root's, the sum's and the square's gradients with
 * their casts) — a KiOP synthesis iteration takes twelve norms.
 *
 * @param x - the tensor.
 * @param axis - the axes to reduce (default: all, a scalar result).
 * @param keepDims - keep the reduced axes with size 1 (default false).
 */
export function l2Norm(x: tf.Tensor, axis?: number | number[], keepDims = false): tf.Tensor {
  const axes = axis === undefined ? x.shape.map((_, i) => i) : (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + x.rank : a));
  // the result's shape with the reduced axes kept (size 1), which broadcasts against x
  const keptShape = x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const norm = tf.customGrad(((t: tf.Tensor, save: tf.GradSaveFunc) => {
    const n = tf.sqrt(tf.sum(tf.square(t), axes, keepDims));
    save([t, n]);
    return {
      value: n,
      gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => {
        const [xs, ns] = saved as [tf.Tensor, tf.Tensor];
        return tf.mul(xs, tf.reshape(tf.div(dy, ns), keptShape));
      },
    };
  }) as unknown as Parameters<typeof tf.customGrad>[0]) as (t: tf.Tensor) => tf.Tensor;
  return norm(x);
}
