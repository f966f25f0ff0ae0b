import * as tf from '@tensorflow/tfjs';
import { featuresTap } from './feature-alignment.js';
import type { BatchNormStatistics, ClassifierModel, LabelMapping } from '@promptkd/core';
import type { FidelityConfig } from './config.js';
import type { NestedPrompt } from './ports.js';

/**
 * Model fusion (KiOP §4.1, Fig. 2b). With a frozen host f_A, a nested prompt (PC, PP, PP2, ...) and one
 * label mapping per source:
 *
 * ```
 * SMA(x)   = f_A(PC(x))                                  // host task, 36 px
 * SM_k(x)  = LM_k(f_A(P_{k+1}(...PP(PC(x)))))            // source k (k = 1: SMB, 128 px; k = 2: SMC, 224 px)
 * ```
 *
 * Host and sources are frozen; only the prompt trains. The prompted host runs in eval mode unless
 * `fidelity.hostBnTrainMode` reproduces the reference code: BN on batch statistics (kiop-spec §6.1), with the host's
 * running statistics left untouched, so the plain host ({@link plainHostLogits}: the preservation target, as the
 * reference's eval-mode copy `student_init`) and the host as a teacher of bank A stay the frozen eval-mode network.
 */
export class FusedModels {
  constructor(
    readonly host: ClassifierModel,
    readonly prompt: NestedPrompt,
    /** LM_k for k = 1..K (one per source, disjoint host logits for several sources). */
    readonly mappings: readonly LabelMapping[],
    readonly fidelity: Pick<FidelityConfig, 'hostBnTrainMode'>,
  ) {
    if (prompt.numSegments < mappings.length + 1) {
      throw new RangeError(
        `A prompt with ${prompt.numSegments} segment(s) cannot serve ${mappings.length} source(s): ` +
          `it needs ${mappings.length + 1} (PC for the host plus one periphery segment per source).`,
      );
    }
  }

  /** Host logits of an already prompted canvas (batch-statistics BN in the reference mode). */
  hostLogits(canvas: tf.Tensor4D): tf.Tensor2D {
    return this.host.apply(canvas, { training: false, bnStatistics: this.fidelity.hostBnTrainMode ? 'batch' : 'running' }).logits;
  }

  /** f_A(x) of the frozen host in eval mode, whatever the prompted host's BN mode. */
  plainHostLogits(x: tf.Tensor4D): tf.Tensor2D {
    return this.host.apply(x, { training: false }).logits;
  }

  /** SMA = f_A ∘ PC: K_A logits. */
  sma(x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.hostLogits(this.prompt.apply(x, { upTo: 1 })));
  }

  /** f_A(P_{k+1}(...PC(x))): the host's K_A logits of source k's canvas, before LM_k. */
  promptedHostLogits(k: number, x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => this.hostLogits(this.prompt.apply(x, { upTo: k + 1 })));
  }

  /** The host's penultimate features (tap `features`, `[N, D]`) of source k's canvas, BN as in {@link hostLogits}. */
  promptedHostFeatures(k: number, x: tf.Tensor4D): tf.Tensor2D {
    return tf.tidy(() => {
      const canvas = this.prompt.apply(x, { upTo: k + 1 });
      const mode = this.fidelity.hostBnTrainMode ? 'batch' : 'running';
      return featuresTap(this.host.apply(canvas, { training: false, bnStatistics: mode, taps: ['features'] }), this.host.name);
    });
  }

  /** SM_k (k ≥ 1): K_k logits of source k through segments 1..k+1 and LM_k. `smk(1)` is SMB. */
  smk(k: number, x: tf.Tensor4D): tf.Tensor2D {
    const mapping = this.mappings[k - 1];
    if (!mapping) throw new RangeError(`No source ${k}: this fusion has ${this.mappings.length} source(s).`);
    return tf.tidy(() => mapping.apply(this.promptedHostLogits(k, x)));
  }

  /**
   * SM_k with the host in eval mode on the given BN statistics instead of its running statistics (prompt-specific
   * statistics of a batch-statistics prompt: how it is served).
   */
  smkWithStatistics(k: number, x: tf.Tensor4D, bnOverride: Readonly<Record<string, BatchNormStatistics>>): tf.Tensor2D {
    const mapping = this.mappings[k - 1];
    if (!mapping) throw new RangeError(`No source ${k}: this fusion has ${this.mappings.length} source(s).`);
    return tf.tidy(() => mapping.apply(this.host.apply(this.prompt.apply(x, { upTo: k + 1 }), { training: false, bnOverride }).logits));
  }

  /** SMB = LM ∘ f_A ∘ PP ∘ PC. */
  smb(x: tf.Tensor4D): tf.Tensor2D {
    return this.smk(1, x);
  }
}
