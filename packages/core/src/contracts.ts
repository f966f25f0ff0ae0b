import type * as tf from '@tensorflow/tfjs';
import type { Rng } from './rng.js';

/**
 * The minimal contracts shared across promptkd packages. Later packages extend them;
 * everything here is deliberately small.
 */

/** Per-channel input statistics of one BatchNorm layer, as needed by the CMI BN-statistics loss. */
export interface BatchNormTap {
  /** PyTorch-style module name, e.g. `layer1.0.bn1`. */
  readonly name: string;
  /** Mean of the BN input over N,H,W (shape [C]). */
  readonly mean: tf.Tensor1D;
  /** Biased variance of the BN input over N,H,W (shape [C]). */
  readonly variance: tf.Tensor1D;
  /** The layer's running mean (shape [C]); the target of the BN-statistics loss. */
  readonly runningMean: tf.Tensor1D;
  /** The layer's running variance (shape [C]). */
  readonly runningVar: tf.Tensor1D;
  /**
   * Per-sample spatial mean of the BN input, shape [N, C] (CMI's instance-mean feature; concatenated over
   * layers it is the contrastive head's input). Always set by `@promptkd/models`; optional for other producers.
   */
  readonly spatialMean?: tf.Tensor2D;
}

/** Options for a forward pass. */
export interface ApplyOptions {
  /** BatchNorm/dropout in training mode (batch statistics, running-stat update). Default false. */
  readonly training?: boolean;
  /**
   * Statistics BatchNorm normalises with when `training` is false: `'running'` (eval mode, default) or `'batch'`,
   * the batch's own mean and biased variance, with the running statistics left untouched and dropout off. `'batch'`
   * is how PyTorch runs a frozen network left in train mode whose buffers nothing reads (the KiOP reference host,
   * kiop-spec §6.1), without the side effect on the buffers. Ignored when `training` is true.
   */
  readonly bnStatistics?: 'running' | 'batch';
  /**
   * Eval-mode BatchNorm statistics to use INSTEAD of the model's running statistics, by BN layer name (the names of
   * {@link BatchNormTap}; e.g. prompt-specific population statistics, `bnPopulationStatistics` of @promptkd/models).
   * Every BN layer must have an entry; the model's own buffers are neither read nor written. Only with
   * `bnStatistics: 'running'` and `training` false (a ConfigError otherwise). Statistics of shape `[N, C]` give each
   * row of the batch its own (row i normalised exactly as a forward of that row alone with row i's `[C]` statistics):
   * one forward for images that need different statistics (a mixed batch of prompts).
   */
  readonly bnOverride?: Readonly<Record<string, BatchNormStatistics>>;
  /** Collect per-BN-layer statistics (CMI). Default false. */
  readonly bnTaps?: boolean;
  /** Names of intermediate outputs to return (model-specific, e.g. `layer3`, `blocks.5`, `features`). */
  readonly taps?: readonly string[];
}

/**
 * Per-channel statistics a BatchNorm layer normalises with: mean and biased variance, `[C]` each — or, as an
 * eval-mode override ({@link ApplyOptions.bnOverride}), `[N, C]` each: one set per row of the batch.
 */
export interface BatchNormStatistics {
  readonly mean: tf.Tensor1D | tf.Tensor2D;
  readonly variance: tf.Tensor1D | tf.Tensor2D;
}

/** Result of a forward pass. */
export interface ModelOutput {
  /** Class scores, shape [N, K]. */
  readonly logits: tf.Tensor2D;
  /** Requested intermediate outputs by name. */
  readonly taps: Readonly<Record<string, tf.Tensor>>;
  /** Present when `bnTaps` was requested: one entry per BatchNorm layer in forward order. */
  readonly bn?: readonly BatchNormTap[];
}

/** Per-channel input normalisation that belongs to a model (not to a dataset). */
export interface Normalization {
  readonly mean: readonly number[];
  readonly std: readonly number[];
}

/**
 * A classifier whose parameters are named `tf.Variable`s following PyTorch state-dict names.
 * Inputs are float32 NHWC images in [0,1]; the model applies its own {@link Normalization}.
 */
export interface ClassifierModel {
  /** Registry key or user-given name (recorded in checkpoints and prompt artifacts). */
  readonly name: string;
  readonly numClasses: number;
  readonly inputChannels: number;
  readonly normalization: Normalization | undefined;
  /**
   * Names (keys of {@link ClassifierModel.namedVariables}) of the classifier-head parameters, e.g.
   * `['fc.weight', 'fc.bias']`: what changes when the class count changes.
   */
  readonly headNames?: readonly string[];
  /** Forward pass. Must be called inside a tidy scope by the caller or returns tensors the caller disposes. */
  apply(x: tf.Tensor4D, options?: ApplyOptions): ModelOutput;
  /** All parameters and buffers by PyTorch name (weights, biases, running stats). */
  namedVariables(): ReadonlyMap<string, tf.Variable>;
  /** The variables an optimiser should update (empty when frozen). */
  trainableVariables(): tf.Variable[];
  /** Freeze or unfreeze all parameters. */
  setTrainable(trainable: boolean): void;
  dispose(): void;
}

/** A learnable input transformation (a visual prompt). */
export interface PromptModule {
  readonly key: string;
  /** Applies the prompt to NHWC images. */
  apply(x: tf.Tensor4D): tf.Tensor4D;
  trainableVariables(): tf.Variable[];
  /** Number of parameters that affect the output (paper's count) and number stored. */
  parameterCount(): { effective: number; stored: number };
  dispose(): void;
}

/** Maps host-model logits to source-task logits (model reprogramming). */
export interface LabelMapping {
  readonly key: string;
  /** π: source class j reads host logit `mapping[j]`. */
  readonly mapping: readonly number[];
  /** Differentiable: [N, K_host] → [N, K_source]. */
  apply(hostLogits: tf.Tensor2D): tf.Tensor2D;
}

/** Named outputs of a network given to a KD loss (`logits`, `features`, `block3`, ...). */
export type Taps = Readonly<Record<string, tf.Tensor>>;

/** Input of a KD loss. */
export interface KdLossInput {
  readonly student: Taps;
  readonly teacher: Taps;
  readonly labels?: tf.Tensor1D;
}

/** A loss returning a total and its named terms (for logging). */
export interface LossResult {
  readonly total: tf.Scalar;
  readonly terms: Readonly<Record<string, tf.Scalar>>;
}

/** A KD loss: a pure function of student/teacher taps and a config. */
export type KdLossFn<C> = (input: KdLossInput, config: C) => tf.Scalar;

/** What one synthesis round reports. */
export interface SynthesisStep {
  /** Loss terms of the kept (best) batch. */
  readonly losses: Readonly<Record<string, number>>;
  /** Images in the bank after the round. */
  readonly bankSize: number;
}

/** A data-free synthesizer (CMI, DeepInversion). */
export interface Synthesizer {
  readonly key: string;
  /** One synthesis round: optimise a batch and append it to the image bank. */
  synthesize(): Promise<SynthesisStep>;
  /** `n` images from the bank, NHWC float32 in [0,1]. */
  sample(n: number, rng?: Rng): tf.Tensor4D;
  /** `n` bank images picked by `rng` alone, leaving the order {@link Synthesizer.sample} follows untouched (diagnostics). */
  draw(n: number, rng: Rng): tf.Tensor4D;
  dispose(): void;
}

/** Context handed to continual-learning hooks. */
export interface TaskContext {
  /** Index of the current task t. */
  readonly task: number;
  /** Current task's classes are [lo, hi). */
  readonly lo: number;
  readonly hi: number;
}

/** A prompt-based continual-learning method (L2P, DualPrompt, CODA-Prompt, ...). */
export interface ContinualMethod {
  readonly key: string;
  beforeTask?(ctx: TaskContext): void;
  afterTask?(ctx: TaskContext): void;
  trainableVariables(): tf.Variable[];
  dispose(): void;
}
