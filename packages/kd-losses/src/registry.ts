import type * as tf from '@tensorflow/tfjs';
import { createRegistry, type KdLossFn, type KdLossInput, type Registry } from '@promptkd/core';
import { type DecoupledKdConfig, decoupledKdLoss } from './decoupled-kd.js';
import { type DistillationTokenConfig, distillationTokenLoss } from './distillation-token.js';
import { type FeatureMseConfig, featureMseLoss } from './feature-mse.js';
import { type FitNetsConfig, fitNetsKdLoss } from './fitnets.js';
import { type HintonKdConfig, hintonKdLoss } from './hinton-kd.js';
import { type KlDivergenceOptions, klDivergenceLoss } from './kl-divergence.js';
import { type ReviewKdConfig, reviewKdKdLoss } from './review-kd.js';

/**
 * Config type of every registered KD loss, by key. Third parties add entries by declaration merging:
 * `declare module '@promptkd/kd-losses' { interface KdLossConfigs { myLoss: MyConfig } }`.
 */
export interface KdLossConfigs {
  klDivergence: KlDivergenceOptions;
  hinton: HintonKdConfig;
  dkd: DecoupledKdConfig;
  fitNets: FitNetsConfig;
  featureMse: FeatureMseConfig;
  reviewKd: ReviewKdConfig;
  distillationToken: DistillationTokenConfig;
}

/** A registered KD-loss key. */
export type KdLossKey = keyof KdLossConfigs;

/**
 * The KD-loss registry: each entry is a {@link KdLossFn} `(input: {student, teacher, labels?}, config) => tf.Scalar`
 * reading named taps. Use {@link getKdLoss} / {@link computeKdLoss} for config types checked per key.
 */
export const kdLossRegistry: Registry<KdLossFn<never>> = createRegistry<KdLossFn<never>>('KD loss');

function register<K extends KdLossKey>(
  key: K,
  entry: { description: string; paper: { citation: string; title: string; url: string }; create: KdLossFn<KdLossConfigs[K]> },
): void {
  kdLossRegistry.register(key, entry);
}

register('klDivergence', {
  description:
    'Temperature-scaled KL, τ²·batch-mean, forward or reversed, optional gradient through the target (KiOP preservation term); taps `logits`',
  paper: { citation: 'Hinton et al., 2015', title: 'Distilling the Knowledge in a Neural Network', url: 'https://arxiv.org/abs/1503.02531' },
  create: klDivergenceLoss,
});
register('hinton', {
  description: '(1−α)·CE + α·τ²·KL(teacher ‖ student), optionally on the current task columns [lo, hi); taps `logits` + labels',
  paper: { citation: 'Hinton et al., 2015', title: 'Distilling the Knowledge in a Neural Network', url: 'https://arxiv.org/abs/1503.02531' },
  create: hintonKdLoss,
});
register('dkd', {
  description: 'Decoupled KD α·TCKD + β·NCKD with its own temperature, targets re-indexed to [lo, hi), optional CE mix; taps `logits` + labels',
  paper: { citation: 'Zhao et al., CVPR 2022', title: 'Decoupled Knowledge Distillation', url: 'https://arxiv.org/abs/2203.08679' },
  create: decoupledKdLoss,
});
register('fitNets', {
  description: 'FitNets hint: MSE(F^S·W_p + b, F^T) with a trainable Linear regressor; taps `features`',
  paper: { citation: 'Romero et al., ICLR 2015', title: 'FitNets: Hints for Thin Deep Nets', url: 'https://arxiv.org/abs/1412.6550' },
  create: fitNetsKdLoss,
});
register('featureMse', {
  description: 'Plain feature MSE between same-shaped student and teacher features; taps `features`',
  paper: { citation: 'Romero et al., ICLR 2015', title: 'FitNets: Hints for Thin Deep Nets', url: 'https://arxiv.org/abs/1412.6550' },
  create: featureMseLoss,
});
register('reviewKd', {
  description: 'ReviewKD on tokens: top-down ABF fusion of all student blocks, mean per-level MSE to the last L teacher blocks; taps `blocks.<i>`',
  paper: { citation: 'Chen et al., CVPR 2021', title: 'Distilling Knowledge via Knowledge Review', url: 'https://arxiv.org/abs/2104.09044' },
  create: reviewKdKdLoss,
});
register('distillationToken', {
  description: 'KDP/DeiT distillation-token loss: τ²·KL(teacher ‖ KD head) on the current task columns; taps `kdLogits`, teacher `logits`',
  paper: { citation: 'Touvron et al., ICML 2021', title: 'Training data-efficient image transformers & distillation through attention', url: 'https://arxiv.org/abs/2012.12877' },
  create: distillationTokenLoss,
});

/** The loss function registered under `key`, typed with that key's config. */
export function getKdLoss<K extends KdLossKey>(key: K): KdLossFn<KdLossConfigs[K]> {
  return kdLossRegistry.get(key).create as unknown as KdLossFn<KdLossConfigs[K]>;
}

/** Computes the registered loss `key` on `input` with a config type-checked for that key. */
export function computeKdLoss<K extends KdLossKey>(key: K, input: KdLossInput, config: KdLossConfigs[K]): tf.Scalar {
  return getKdLoss(key)(input, config);
}
