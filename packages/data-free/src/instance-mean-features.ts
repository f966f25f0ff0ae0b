import * as tf from '@tensorflow/tfjs';
import { type BatchNormTap, ConfigError } from '@promptkd/core';

/**
 * CMI's instance-mean features: the per-sample spatial mean of every BN layer's input, concatenated over
 * layers in forward order, shape [N, D] with D = Σ_ℓ C_ℓ (ResNet-18: 4 800).
 *
 * @param taps — the teacher's BN taps; each must carry `spatialMean` ([N, C_ℓ]).
 */
export function instanceMeanFeatures(taps: readonly BatchNormTap[]): tf.Tensor2D {
  if (taps.length === 0) {
    throw new ConfigError('CMI features need a teacher with at least one BatchNorm layer; the model reported none.', {
      field: 'teacher',
    });
  }
  const parts = taps.map((t) => {
    if (!t.spatialMean) {
      throw new ConfigError(
        `BN tap '${t.name}' has no spatialMean: the teacher must report each BN input's per-sample spatial mean ` +
          '([N, C]) for the CMI contrastive features (models from @promptkd/models do).',
        { field: 'teacher', tap: t.name },
      );
    }
    return t.spatialMean;
  });
  return parts.length === 1 ? tf.clone(parts[0] as tf.Tensor2D) : (tf.concat(parts, 1) as tf.Tensor2D);
}

/** Feature dimension D of a teacher, from the BN taps of one forward pass. */
export function featureDim(taps: readonly BatchNormTap[]): number {
  return taps.reduce((s, t) => s + (t.mean.shape[0] ?? 0), 0);
}
