import * as tf from '@tensorflow/tfjs';
import { ShapeError } from './errors.js';
import { hasFusedKernels } from './gelu.js';
import { registerGradientOnce } from './register-gradient-once.js';

/**
 * Kernel name of the fused feature statistics: input `{ x }` (`[N, H, W, C]`), outputs `[mean, variance,
 * instanceMean]` (`[C]`, `[C]`, `[N, C]`).
 */
export const FEATURE_STATISTICS_KERNEL = 'PromptkdFeatureStatistics';
/**
 * Kernel name of its gradient: inputs `{ dMean, dVariance, dInstanceMean, x, mean }`, output
 * `dx = dMean/R + dVariance·2(x − mean)/R + dInstanceMean/(H·W)` (R = N·H·W).
 */
export const FEATURE_STATISTICS_GRAD_KERNEL = 'PromptkdFeatureStatisticsGrad';

const GRADIENT: tf.GradConfig = {
  kernelName: FEATURE_STATISTICS_KERNEL,
  inputsToSave: ['x'],
  outputsToSave: [true, false, false],
  gradFunc: (dys, saved) => {
    const [x, mean] = saved as [tf.Tensor4D, tf.Tensor1D];
    const [dMean, dVariance, dInstanceMean] = dys as Array<tf.Tensor | null>;
    const [n, , , c] = x.shape;
    const dx = tf.engine().runKernel(FEATURE_STATISTICS_GRAD_KERNEL, {
      dMean: dMean ?? tf.zeros([c]),
      dVariance: dVariance ?? tf.zeros([c]),
      dInstanceMean: dInstanceMean ?? tf.zeros([n, c]),
      x,
      mean,
    }) as tf.Tensor;
    return { x: () => dx };
  },
};

/** Output of {@link featureStatistics}. */
export interface FeatureStatistics {
  /** Per-channel mean μ over N, H, W: `[C]`. */
  readonly mean: tf.Tensor1D;
  /** Per-channel biased variance σ² over N, H, W: `[C]`. */
  readonly variance: tf.Tensor1D;
  /** Per-sample spatial mean of each channel (the feature of CMI's `InstanceMeanHook`): `[N, C]`. */
  readonly instanceMean: tf.Tensor2D;
}

/**
 * What a data-free synthesis reads at a BN layer's input `x` (NHWC), differentiable in all three: the batch mean μ and
 * biased variance σ² per channel that DeepInversion's and CMI's feature-statistics loss R_BN matches to the running
 * statistics, and each sample's spatial mean per channel, whose concatenation over layers is CMI's contrastive
 * feature. One fused kernel each way where the backend registers {@link FEATURE_STATISTICS_KERNEL} and
 * {@link FEATURE_STATISTICS_GRAD_KERNEL} (one pass over `x` for all three, and one pass for the whole gradient, where
 * the composition makes five); `tf.moments` and `tf.mean` elsewhere.
 *
 * @param x — BN input `[N, H, W, C]`.
 */
export function featureStatistics(x: tf.Tensor4D): FeatureStatistics {
  if (x.rank !== 4) throw new ShapeError(`featureStatistics needs an NHWC map [N, H, W, C]; got [${x.shape}].`, { expected: [-1, -1, -1, -1], actual: x.shape });
  if (x.dtype === 'float32' && x.size > 0 && hasFusedKernels(FEATURE_STATISTICS_KERNEL, FEATURE_STATISTICS_GRAD_KERNEL)) {
    registerGradientOnce(GRADIENT);
    const [mean, variance, instanceMean] = tf.engine().runKernel(FEATURE_STATISTICS_KERNEL, { x }) as tf.Tensor[];
    return { mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D, instanceMean: instanceMean as tf.Tensor2D };
  }
  const { mean, variance } = tf.moments(x, [0, 1, 2]);
  return { mean: mean as tf.Tensor1D, variance: variance as tf.Tensor1D, instanceMean: tf.mean(x, [1, 2]) as tf.Tensor2D };
}
