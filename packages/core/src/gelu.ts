import * as tf from '@tensorflow/tfjs';
import { registerGradientOnce } from './register-gradient-once.js';

/** Kernel name of the fused exact GELU; a backend may register it (tfjs-env does, with the native kernels). */
export const GELU_KERNEL = 'PromptkdGelu';
/** Kernel name of its gradient: inputs `{ dy, x }`, output `dy·(Φ(x) + x·φ(x))`. */
export const GELU_GRAD_KERNEL = 'PromptkdGeluGrad';

/** Whether the active backend runs `kernels` itself. */
export function hasFusedKernels(...kernels: string[]): boolean {
  const backend = tf.getBackend();
  return kernels.every((k) => tf.getKernel(k, backend) !== undefined);
}

const GRADIENT: tf.GradConfig = {
  kernelName: GELU_KERNEL,
  inputsToSave: ['x'],
  gradFunc: (dy, saved) => ({ x: () => tf.engine().runKernel(GELU_GRAD_KERNEL, { dy: dy as tf.Tensor, x: saved[0] as tf.Tensor }) as tf.Tensor }),
};

/**
 * Exact (erf) GELU, PyTorch's `nn.GELU()`: `x·Φ(x) = x·½·(1 + erf(x/√2))`. One fused kernel forward and one
 * backward where the backend registers {@link GELU_KERNEL} and {@link GELU_GRAD_KERNEL} for float32; the
 * composition of tfjs ops (same values to rounding) elsewhere.
 */
export function gelu<T extends tf.Tensor>(x: T): T {
  if (x.dtype === 'float32' && hasFusedKernels(GELU_KERNEL, GELU_GRAD_KERNEL)) {
    registerGradientOnce(GRADIENT);
    return tf.engine().runKernel(GELU_KERNEL, { x }) as T;
  }
  return tf.tidy(() => tf.mul(tf.mul(x, 0.5), tf.add(1, tf.erf(tf.mul(x, Math.SQRT1_2))))) as T;
}
