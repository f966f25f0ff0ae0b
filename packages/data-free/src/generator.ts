import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@promptkd/core';

/**
 * What the CMI synthesizer needs from an image generator G (e.g. `cmiGenerator` from `@promptkd/models`).
 * G maps z [N, nz] to images [N, H, W, C] in [0,1] and is re-initialised at the start of every round.
 */
export interface SynthesisGenerator {
  /** Latent size nz (CMI/KiOP: 256). When absent, the synthesizer's `nz` option is used. */
  readonly latentDim?: number;
  /** Forward pass; the synthesizer always calls it with `training: true` (batch-statistics BN, as the reference). */
  apply(z: tf.Tensor2D, options?: { training?: boolean }): tf.Tensor4D;
  /** Parameters optimised (with z) by the round's Adam. */
  trainableVariables(): tf.Variable[];
  /** Fresh weights for a new round, e.g. {@link cmiResetParameters}. */
  reinitialize(rng: Rng): void;
}

/**
 * CMI's `reset_model` applied to named PyTorch-style parameters: conv/linear weights (rank ≥ 2) ~ N(0, 0.02),
 * BatchNorm weights (rank-1 `*.weight`) ~ N(1, 0.02), every `*.bias` = 0; buffers (`running_mean`,
 * `running_var`, ...) are left alone (irrelevant for a generator kept in train mode).
 *
 * @param params — name → variable (e.g. a model's `namedVariables()`).
 * @param std — the 0.02 of the reference.
 */
export function cmiResetParameters(params: ReadonlyMap<string, tf.Variable>, rng: Rng, std = 0.02): void {
  for (const [name, v] of params) {
    if (name.endsWith('.bias')) {
      tf.tidy(() => v.assign(tf.zerosLike(v)));
    } else if (name.endsWith('.weight')) {
      const mean = v.rank === 1 ? 1 : 0;
      tf.tidy(() => v.assign(tf.randomNormal(v.shape, mean, std, 'float32', rng.seed())));
    }
  }
}
