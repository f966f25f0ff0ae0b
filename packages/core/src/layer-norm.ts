import * as tf from '@tensorflow/tfjs';
import { ShapeError } from './errors.js';
import { hasFusedKernels } from './gelu.js';
import { gradientFromKernel, registerGradientOnce } from './register-gradient-once.js';

/** Kernel name of the fused layer norm: inputs `{ x, gamma, beta }`, attr `epsilon`, output y. */
export const LAYER_NORM_KERNEL = 'PromptkdLayerNorm';
/** Kernel name of its gradient: inputs `{ dy, x, gamma }`, attr `epsilon`, outputs `[dx, dGamma, dBeta]`. */
export const LAYER_NORM_GRAD_KERNEL = 'PromptkdLayerNormGrad';

const GRADIENT: tf.GradConfig = {
  kernelName: LAYER_NORM_KERNEL,
  inputsToSave: ['x', 'gamma'],
  gradFunc: gradientFromKernel(LAYER_NORM_GRAD_KERNEL, ['x', 'gamma'], ['x', 'gamma', 'beta']),
};

/**
 * PyTorch's `nn.LayerNorm(C)` over the last axis: `y = (x − μ)/√(σ² + ε)·γ + β`, with μ, σ² the mean and biased
 * variance of each row. One fused kernel forward and one backward where the backend registers
 * {@link LAYER_NORM_KERNEL} and {@link LAYER_NORM_GRAD_KERNEL}; the composition of tfjs ops elsewhere.
 *
 * @param x — input `[..., C]`.
 * @param gamma — γ, shape `[C]`.
 * @param beta — β, shape `[C]`.
 * @param epsilon — ε (PyTorch's default 1e-5; timm ViTs use 1e-6).
 */
export function layerNorm<T extends tf.Tensor>(x: T, gamma: tf.Tensor, beta: tf.Tensor, epsilon = 1e-5): T {
  const c = x.shape[x.rank - 1];
  if (x.rank < 1 || gamma.size !== c || beta.size !== c) {
    throw new ShapeError(`layerNorm: gamma and beta must have the ${String(c)} entries of x's last axis, got shapes [${gamma.shape}] and [${beta.shape}].`, {
      expected: [c],
      actual: gamma.shape,
    });
  }
  if (x.dtype === 'float32' && hasFusedKernels(LAYER_NORM_KERNEL, LAYER_NORM_GRAD_KERNEL)) {
    registerGradientOnce(GRADIENT);
    return tf.engine().runKernel(LAYER_NORM_KERNEL, { x, gamma, beta }, { epsilon }) as T;
  }
  return tf.tidy(() => {
    const { mean, variance } = tf.moments(x, x.rank - 1, true);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon))), gamma), beta);
  }) as T;
}
