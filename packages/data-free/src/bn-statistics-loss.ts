import * as tf from '@tensorflow/tfjs';
import { type BatchNormTap, ConfigError, l2Norm } from '@promptkd/core';

/**
 * DeepInversion / CMI BN-statistics loss (feature-distribution regulariser, `L_bn`):
 *
 *   L_bn = Σ_ℓ ‖σ²_run,ℓ − σ²_ℓ(x)‖₂ + ‖μ_run,ℓ − μ_ℓ(x)‖₂
 *
 * where μ_ℓ(x) and σ²_ℓ(x) are the per-channel mean and biased variance of the input of BN layer ℓ over
 * (N, H, W), and μ_run/σ²_run its running statistics. Plain (not squared) L2 norms, summed over layers with
 * no per-layer weights — exactly as CMI's `DeepInversionHook` (Yin et al., 2020; Fang et al., 2021).
 *
 * @param taps — one {@link BatchNormTap} per BN layer of the teacher (`model.apply(x, {bnTaps: true}).bn`).
 * @returns a scalar; differentiable w.r.t. the image through `mean`/`variance`.
 */
export function bnStatisticsLoss(taps: readonly BatchNormTap[]): tf.Scalar {
  if (taps.length === 0) {
    throw new ConfigError(
      'The BN-statistics loss needs at least one BatchNorm layer in the teacher, but the model reported none. ' +
        "Call the teacher with {bnTaps: true}, or use a teacher with BatchNorm layers (set the synthesizer's bn weight to 0 otherwise).",
      { field: 'bn' },
    );
  }
  return tf.tidy(() => {
    const terms = taps.map((t) =>
      tf.add(l2Norm(tf.sub(t.runningVar, t.variance)), l2Norm(tf.sub(t.runningMean, t.mean))),
    );
    return tf.addN(terms) as tf.Scalar;
  });
}
