import * as tf from '@tensorflow/tfjs';
import { ShapeError } from './errors.js';
import { hasFusedKernels } from './gelu.js';
import { registerGradientOnce } from './register-gradient-once.js';

/**
 * Kernel name of the fused affine map `y = x·W + b`: inputs `{ x, w, b }` (`[M, K]`, `[K, N]`, `[N]`), output
 * `[M, N]`. Its gradient is composed (two matmuls and a column sum), as the unfused ops' is.
 */
export const LINEAR_KERNEL = 'PromptkdLinear';

const GRADIENT: tf.GradConfig = {
  kernelName: LINEAR_KERNEL,
  inputsToSave: ['x', 'w'],
  gradFunc: (dy, saved) => {
    const g = dy as tf.Tensor2D;
    const [x, w] = saved as [tf.Tensor2D, tf.Tensor2D];
    return { x: () => tf.matMul(g, w, false, true), w: () => tf.matMul(x, g, true, false), b: () => tf.sum(g, 0) };
  },
};

/**
 * A linear layer's affine map `y = x·W + b` (PyTorch `F.linear` with `W` stored transposed, `[in, out]`). One
 * kernel where the backend registers {@link LINEAR_KERNEL} (promptkd's native kernels on wasm: the product, then
 * the bias added in place, bit-identical to the unfused ops); elsewhere `matMul` then `add`, which is also what a
 * dtype other than float32 gets.
 *
 * @param x — inputs, `[M, K]`.
 * @param w — W, `[K, N]`.
 * @param b — b, `[N]` (optional).
 * @returns `[M, N]`.
 */
export function linear(x: tf.Tensor2D, w: tf.Tensor2D, b?: tf.Tensor1D): tf.Tensor2D {
  const [, k] = x.shape;
  if (x.rank !== 2 || w.rank !== 2 || w.shape[0] !== k || (b && (b.rank !== 1 || b.shape[0] !== w.shape[1]))) {
    throw new ShapeError(`linear: x [M, K], w [K, N] and b [N] expected; got x [${x.shape}], w [${w.shape}]${b ? `, b [${b.shape}]` : ''}.`, {
      x: x.shape,
      w: w.shape,
      b: b?.shape,
    });
  }
  if (!b) return tf.matMul(x, w);
  const fused = [x, w, b].every((t) => t.dtype === 'float32') && x.size > 0 && w.size > 0;
  if (fused && hasFusedKernels(LINEAR_KERNEL)) {
    registerGradientOnce(GRADIENT);
    return tf.engine().runKernel(LINEAR_KERNEL, { x, w, b }) as tf.Tensor2D;
  }
  return tf.add(tf.matMul(x, w), b);
}
