import * as tf from '@tensorflow/tfjs';
import { ShapeError } from './errors.js';
import { hasFusedKernels } from './gelu.js';
import { gradientFromKernel, registerGradientOnce } from './register-gradient-once.js';

/** Kernel name of the fused training-mode batch norm: inputs `{ x, gamma, beta }`, attr `epsilon`, outputs `[y, mean, variance]`. */
export const BATCH_NORM_TRAIN_KERNEL = 'PromptkdBatchNormTrain';
/** Kernel name of its gradient: inputs `{ dy, x, gamma, mean, variance }`, attr `epsilon`, outputs `[dx, dGamma, dBeta]`. */
export const BATCH_NORM_TRAIN_GRAD_KERNEL = 'PromptkdBatchNormTrainGrad';

const GRADIENT: tf.GradConfig = {
  kernelName: BATCH_NORM_TRAIN_KERNEL,
  inputsToSave: ['x', 'gamma'],
  outputsToSave: [false, true, true],
  // only y carries a gradient: the returned statistics are for running averages
  gradFunc: gradientFromKernel(BATCH_NORM_TRAIN_GRAD_KERNEL, ['x', 'gamma', 'mean', 'variance'], ['x', 'gamma', 'beta']),
};

/** Output of {@link batchNormTraining}. */
export interface BatchNormTrainingResult<T extends tf.Tensor> {
  /** `(x − μ_B)/√(σ²_B + ε)·γ + β`. */
  readonly y: T;
  /** μ_B per channel, shape `[C]` (no gradient flows through it: it is for running statistics). */
  readonly mean: tf.Tensor1D;
  /** Biased σ²_B per channel, shape `[C]` (no gradient flows through it). */
  readonly variance: tf.Tensor1D;
}

/**
 * Training-mode batch norm over every axis but the last (NHWC `nn.BatchNorm2d` in `train()`): normalise with the
 * batch mean μ_B and biased variance σ²_B, then scale by γ and shift by β; the gradient of y includes the
 * statistics' own dependence on x. One fused kernel forward and one backward where the backend registers
 * {@link BATCH_NORM_TRAIN_KERNEL} and {@link BATCH_NORM_TRAIN_GRAD_KERNEL}; the composition of tfjs ops elsewhere.
 *
 * @param x — input `[..., C]`.
 * @param gamma — γ (weight), shape `[C]`.
 * @param beta — β (bias), shape `[C]`.
 * @param epsilon — ε (PyTorch's default 1e-5).
 */
export function batchNormTraining<T extends tf.Tensor>(x: T, gamma: tf.Tensor, beta: tf.Tensor, epsilon = 1e-5): BatchNormTrainingResult<T> {
  const c = x.shape[x.rank - 1];
  if (x.rank < 2 || gamma.size !== c || beta.size !== c) {
    throw new ShapeError(`batchNormTraining: x needs rank ≥ 2 and gamma/beta the ${String(c)} entries of its last axis; got x [${x.shape}], gamma [${gamma.shape}], beta [${beta.shape}].`, {
      expected: [c],
      actual: gamma.shape,
    });
  }
  if (x.dtype === 'float32' && x.size > 0 && hasFusedKernels(BATCH_NORM_TRAIN_KERNEL, BATCH_NORM_TRAIN_GRAD_KERNEL)) {
    registerGradientOnce(GRADIENT);
    const [y, mean, variance] = tf.engine().runKernel(BATCH_NORM_TRAIN_KERNEL, { x, gamma, beta }, { epsilon }) as tf.Tensor[];
    return { y: y as T, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
  }
  const axes = Array.from({ length: x.rank - 1 }, (_, i) => i);
  const { mean, variance } = tf.moments(x, axes);
  const y = tf.tidy(() => tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon))), gamma), beta)) as T;
  return { y, mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
}
