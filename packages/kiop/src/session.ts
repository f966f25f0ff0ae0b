import type * as tf from '@tensorflow/tfjs';
import type { ClassifierModel, LabelMapping, PaperRef, Resumable, Rng, Synthesizer } from '@promptkd/core';
import type { KiopConfig } from './config.js';
import type { PromptBnStatistics } from './prompt-bn-statistics.js';
import type { Augment, EvalSet, ImageStream, NestedPrompt, SynthesizerFactory } from './ports.js';

/** Inputs shared by every KiOP variant. */
export interface KiopContext {
  readonly config: KiopConfig;
  /** Frozen host f_A (paper "Model A"; code `student`). */
  readonly host: ClassifierModel;
  /** Frozen sources f_B (, f_C) (paper "Model B"; code `teacher`). One, or two for `multiModel`. */
  readonly sources: readonly ClassifierModel[];
  /** The nested prompt [PC, PP, (PP2)] — the only trainable tensors of KiOP-T/B/BF/multi-model. */
  readonly prompt: NestedPrompt;
  /** LM_k per source: host logits → source-k logits. */
  readonly mappings: readonly LabelMapping[];
  /** Host test set (Acc.A) and one test set per source (Acc.B, Acc.C). */
  readonly hostTest: EvalSet;
  readonly sourceTests: readonly EvalSet[];
  /** Real host training images (KiOP-B's data bank A). */
  readonly hostTrain?: ImageStream;
  /** Real training images of each source: only the real-data reference (`realDataRef`) uses them. */
  readonly sourceTrain?: readonly ImageStream[];
  /** Train-time augmentation of each dataset's images (applied to bank samples), host first. */
  readonly hostAugment?: Augment;
  readonly sourceAugment?: readonly (Augment | undefined)[];
  /** Builds CMI synthesizers (default: `@promptkd/data-free`). */
  readonly createSynthesizer: SynthesizerFactory;
  /**
   * Builds a fresh network of the host's architecture with `numClasses` outputs (Vanilla-KD trains a copy
   * of the host with a K_B-way head).
   */
  readonly buildHostLike?: (numClasses: number) => ClassifierModel;
  readonly rng: Rng;
}

/** A running variant: what trains, on which loss, and how it is evaluated. */
export interface VariantSession {
  /** Synthesizers run `roundsPerEpoch` times at the start of every epoch (the Synthesize Period). */
  readonly synthesizers: ReadonlyArray<{ readonly bank: string; readonly synthesizer: Synthesizer }>;
  /** Variables the knowledge-storing optimiser updates. */
  trainableVariables(): tf.Variable[];
  /** Learning rate at epoch 0 (prompt lr, or the host's for Vanilla-KD). */
  readonly baseLr: number;
  /** Weighted loss terms of one knowledge-storing step; called inside `tf.variableGrads`. */
  lossTerms(): Record<string, tf.Scalar>;
  /**
   * The same step split in two, for gradient accumulation over micro-batches (`config.microBatch`): `drawBatch`
   * draws the step's images (N rows per bank, the caller disposes them), `batchLossTerms` computes the weighted
   * terms — each a mean over the rows — on any rows of them. Sessions without them cannot be micro-batched.
   */
  drawBatch?(): Record<string, tf.Tensor4D>;
  batchLossTerms?(batch: Readonly<Record<string, tf.Tensor4D>>): Record<string, tf.Scalar>;
  /**
   * Called at the start of every knowledge-storing period, after the synthesis rounds (e.g. the data-free iterative
   * label mapping is recomputed here). Returns diagnostics for the epoch's record.
   */
  beforeStoring?(epoch: number): Record<string, number>;
  /** State beyond tensors that a resumed run needs (e.g. the current iterative label mapping). */
  readonly extraState?: Resumable;
  /**
   * Acc.A, Acc.B (and Acc.C), in [0, 1], and `predictedClassesB` (, `C`): the effective number of source classes
   * predicted on the source test set (`effectiveClasses`).
   */
  evaluate(): Promise<Record<string, number>>;
  /**
   * Per-epoch diagnostics beyond the paper's metrics (e.g. `bankAgreementB`: how often the prompted host agrees with
   * the source on the bank it trains on) after `epoch`. Optional; must not consume the training streams' randomness.
   */
  diagnostics?(epoch: number): Record<string, number> | Promise<Record<string, number>>;
  /**
   * Restarts every random stream of the session (bank sampling, real-data order, synthesizers) from `seed`.
   * The loop calls it at the start of each epoch with a seed derived from (config.seed, epoch), so a run resumed
   * at an epoch boundary replays exactly what an uninterrupted run does.
   */
  reseed(seed: number): void;
  /**
   * After training, for a prompt trained with the host's BN on batch statistics (`fidelity.hostBnTrainMode`): the
   * prompted host's BN statistics per source over the images the prompt trained on, and the accuracy the host reaches in
   * eval mode with them (see {@link PromptBnStatistics}). Undefined when the host ran in eval mode or there is no prompt.
   */
  promptBnStatistics?(): Promise<readonly PromptBnStatistics[] | undefined>;
  /** Named tensors that make up the trained result and must be checkpointed. */
  stateVariables(): Record<string, tf.Variable>;
  dispose(): void;
}

/** A registered KiOP variant. */
export interface KiopVariant {
  readonly create: (ctx: KiopContext) => VariantSession;
}

/** The KiOP paper, for registry entries. */
export const KIOP_PAPER: PaperRef = {
  citation: 'Li et al., ECCV 2024',
  title: 'Encapsulating Knowledge in One Prompt',
  url: 'https://arxiv.org/abs/2407.11902',
};
