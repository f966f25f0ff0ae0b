/**
 * @promptkd/kd-losses — knowledge-distillation losses as pure TensorFlow.js functions, plus a typed registry.
 * Every function validates shapes (ShapeError), runs inside `tf.tidy`, and returns tensors the caller owns.
 */
export type { ColumnRange } from './internal/checks.js';
export { type KlDivergenceOptions, klDivergence, klDivergenceLoss } from './kl-divergence.js';
export { type MaskedCrossEntropyOptions, maskedCrossEntropy } from './cross-entropy.js';
export { type HintonKdConfig, type HintonKdInput, hintonKd, hintonKdLoss } from './hinton-kd.js';
export {
  DKD_TARGET_SUPPRESSION,
  type DecoupledKdConfig,
  type DecoupledKdParts,
  type DecoupledKdPartsConfig,
  decoupledKd,
  decoupledKdLoss,
  decoupledKdParts,
} from './decoupled-kd.js';
export { type FeatureMseConfig, featureMse, featureMseLoss } from './feature-mse.js';
export {
  type FitNetsConfig,
  type FitNetsRegressor,
  type FitNetsRegressorOptions,
  type LinearParams,
  createFitNetsRegressor,
  fitNetsKdLoss,
  fitNetsLoss,
} from './fitnets.js';
export {
  REVIEW_KD_LAYER_NORM_EPSILON,
  type AbfParams,
  type LayerNormParams,
  type ReviewKdConfig,
  type ReviewKdModules,
  type ReviewKdModulesOptions,
  type ReviewKdParams,
  createReviewKdModules,
  reviewKdFuse,
  reviewKdKdLoss,
  reviewKdLoss,
} from './review-kd.js';
export {
  type DistillationTokenConfig,
  type KdpStudentInput,
  distillationTokenKd,
  distillationTokenLoss,
  kdpStudentObjective,
} from './distillation-token.js';
export { type WeightedTerms, lossValues, weightedSum } from './weighted-sum.js';
export { type KdLossConfigs, type KdLossKey, computeKdLoss, getKdLoss, kdLossRegistry } from './registry.js';
export { stopGradient } from './internal/tensor-ops.js';
