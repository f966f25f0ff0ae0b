import * as tf from '@tensorflow/tfjs';
import { ShapeError } from './errors.js';
import { hasFusedKernels } from './gelu.js';
import { registerGradientOnce } from './register-gradient-once.js';

/** Kernel name of the fused per-channel moments: input `{ x }`, outputs `[mean, variance]` (each `[C]`). */
export const CHANNEL_MOMENTS_KERNEL = 'PromptkdChannelMoments';
/**
 * Kernel name of its gradient: inputs `{ dMean, dVariance, x, mean }`, output
 * `dx = dMean/R + dVariance·2(x − mean)/R` (R rows: every axis but the last).
 */
export const CHANNEL_MOMENTS_GRAD_KERNEL = 'PromptkdChannelMomentsGrad';

const GRADIENT: tf.GradConfig = {
  kernelName: CHANNEL_MOMENTS_KERNEL,
  inputsToSave: ['x'],
  outputsToSave: [true, false],
  gradFunc: (dys, saved) => {
    const [x, mean] = saved as tf.Tensor[];
    const [dMean, dVariance] = (Array.isArray(dys) ? dys : [dys, null]) as Array<tf.Tensor | null>;
    const zero = (): tf.Tensor => tf.zerosLike(mean as tf.Tensor);
    const dx = tf.engine().runKernel(CHANNEL_MOMENTS_GRAD_KERNEL, {
      dMean: dMean ?? zero(),
      dVariance: dVariance ?? zero(),
      x: x as tf.Tensor,
      mean: mean as tf.Tensor,
    }) as tf.Tensor;
    return { x: () => dx };
  },
};

/**
 * Per-channel mean μ and biased variance σ² of `x` over every axis but the last (NHWC: over N, H, W), as
 * `tf.moments(x, [0, …, rank−2])`, differentiable in both outputs — the statistics of a BN layer's input that
 * DeepInversion's and CMI's feature-statistics loss match. One fused kernel each way where the backend registers
 * {@link CHANNEL_MOMENTS_KERNEL} and {@link CHANNEL_MOMENTS_GRAD_KERNEL}; `tf.moments` elsewhere.
 *
 * @param x — input `[..., C]`, rank ≥ 2.
 */
export function channelMoments(x: tf.Tensor): { mean: tf.Tensor1D; variance: tf.Tensor1D } {
  if (x.rank < 2) throw new ShapeError(`channelMoments needs rank ≥ 2 (channels last); got [${x.shape}].`, { expected: [-1, -1], actual: x.shape });
  if (x.dtype === 'float32' && x.size > 0 && hasFusedKernels(CHANNEL_MOMENTS_KERNEL, CHANNEL_MOMENTS_GRAD_KERNEL)) {
    registerGradientOnce(GRADIENT);
    const [mean, variance] = tf.engine().runKernel(CHANNEL_MOMENTS_KERNEL, { x }) as tf.Tensor[];
    return { mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
  }
  const { mean, variance } = tf.moments(x, Array.from({ length: x.rank - 1 }, (_, i) => i));
  return { mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D };
}
