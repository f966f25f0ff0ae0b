import type * as tf from '@tensorflow/tfjs';
import type { LossResult, TaskContext } from '@promptkd/core';

/**
 * Prefix keys/values for one attention layer, already in the projected space (prefix tuning):
 * `key`/`value` are `[N, Lp, D]`. Assignable to `@promptkd/models`' `PrefixKeyValue`.
 */
export interface PrefixKV {
  readonly key: tf.Tensor3D;
  readonly value: tf.Tensor3D;
}

/**
 * The prefixes of one transformer block: `prepend` goes before the real keys/values (CL prompts,
 * spec §3.1), `append` after them (KDP's KD prefixes, spec §5.1). Order does not change attention.
 */
export interface BlockPrefix {
  readonly prepend?: PrefixKV;
  readonly append?: PrefixKV;
}

/** Options of a prompted ViT forward pass. */
export interface PromptableForwardOptions {
  /** One entry per block (index = block number); missing/undefined = no prefix in that block. */
  readonly prefixes?: ReadonlyArray<BlockPrefix | undefined>;
  /**
   * Extra tokens `[N, E, D]` appended after the last patch token, AFTER the positional embedding
   * was added (they get none). KDP's KD token.
   */
  readonly extraTokens?: tf.Tensor3D;
  /** Also return every block's output (before the final norm). */
  readonly blockOutputs?: boolean;
  /**
   * No gradient will be taken through this forward (a frozen teacher, evaluation): the backbone may run each block as
   * one fused kernel (`noGrad` of `@promptkd/models`' ViT).
   */
  readonly noGrad?: boolean;
}

/** Result of a prompted ViT forward pass. */
export interface PromptableForward {
  /** Final-LayerNorm token sequence `[N, 1 + P + E, D]` ([CLS] first, extra tokens last). */
  readonly tokens: tf.Tensor3D;
  /** Present when `blockOutputs` was requested: output of each block, `[N, T, D]`, before the final norm. */
  readonly blocks?: readonly tf.Tensor3D[];
}

/**
 * The frozen ViT backbone as the continual-learning code needs it: prefix tuning per block, extra
 * tokens and taps. {@link fromVisionTransformer} adapts `@promptkd/models`' ViT to it.
 */
export interface PromptableViT {
  /** D (embedding width). */
  readonly embedDim: number;
  /** Number of transformer blocks. */
  readonly depth: number;
  readonly numHeads: number;
  /** Inputs: NHWC float32 images in [0,1] (the model normalises). */
  forward(x: tf.Tensor4D, options?: PromptableForwardOptions): PromptableForward;
  /** All backbone variables (to check they stay frozen). */
  variables(): tf.Variable[];
}

/** What a prompt method hands to the backbone for one batch. */
export interface PromptSelection {
  /** Per block, the CL prefix to PREPEND (length `depth`, undefined = none). */
  readonly prefixes: ReadonlyArray<PrefixKV | undefined>;
  /** Key / query matching loss (L_pool, weight 1 in the reference). Undefined = 0. */
  readonly keyLoss?: tf.Scalar;
  /**
   * Indices of the selected pool entries per sample `[N][k]` (L2P top-k, DualPrompt E-prompt) for
   * inspection and tests. Only filled when `inspect: true` was passed.
   */
  readonly selected?: number[][];
}

/** Options of {@link ClPromptMethod.select}. */
export interface SelectOptions {
  /** Training mode: DualPrompt uses the true task id, CODA detaches past components, ortho loss on. */
  readonly training: boolean;
  /** Read back the selected indices (synchronous download; tests/inspection only). */
  readonly inspect?: boolean;
}

/**
 * A prompt-based continual-learning method: a prompt pool that turns the query `q(x)` into
 * per-block prefixes. Stateful across tasks through {@link ClPromptMethod.beforeTask}.
 */
export interface ClPromptMethod {
  /** Registry key: `l2p`, `dualprompt`, `coda`. */
  readonly key: string;
  /** Prompt width (D of the backbone it prompts). */
  readonly embedDim: number;
  /** Key/query width D_q (the shared query ViT's width). */
  readonly keyDim: number;
  /** Blocks that receive prefixes. */
  readonly layers: readonly number[];
  /** The current task index (set by {@link ClPromptMethod.beforeTask}). */
  readonly task: number;
  /** Prefixes for a batch of queries `[N, D_q]`. Call inside a tidy / gradient scope. */
  select(query: tf.Tensor2D, options: SelectOptions): PromptSelection;
  /** Called at the start of every task (CODA re-initialises the new task's components). */
  beforeTask(ctx: TaskContext): void;
  /**
   * Sets the task counter WITHOUT touching parameters (restoring a snapshot / checkpoint of task `task`;
   * CODA then uses components [0, (task+1)·M/N)).
   */
  setTask(task: number): void;
  afterTask?(ctx: TaskContext): void;
  /** Parameters by name (`e_p_2`, `e_k_2`, `g_p_0`, ...). */
  namedVariables(): ReadonlyMap<string, tf.Variable>;
  trainableVariables(): tf.Variable[];
  dispose(): void;
}

/** A set of labelled images. `x` is NHWC float32 in [0,1]; `y` holds global class ids. */
export interface LabeledImages {
  readonly x: tf.Tensor4D;
  readonly y: Int32Array;
}

/** One task of a class-incremental stream: classes [lo, hi). */
export interface ClassIncrementalTask extends TaskContext {
  readonly train: LabeledImages;
  readonly test: LabeledImages;
}

/** One mini-batch handed to a {@link Learner}. */
export interface Batch {
  readonly x: tf.Tensor4D;
  /** Labels, int32 `[N]`. */
  readonly y: tf.Tensor1D;
  /** Query q(x) of the shared frozen query ViT, `[N, D_q]` (no gradient). */
  readonly query: tf.Tensor2D;
  /** Row indices of the batch in the task's split (for caches). */
  readonly indices: Int32Array;
}

/** Anything the class-incremental trainer can train: a CL model, a KD student, ... */
export interface Learner {
  /** Variables the optimiser updates (re-read at the start of each task). */
  trainableVariables(): tf.Variable[];
  /** Training loss of one batch (called inside a gradient scope). */
  loss(batch: Batch, ctx: TaskContext): LossResult;
  /** Prediction scores over the seen classes `[N, hi]` (eval mode, no task id). */
  predict(x: tf.Tensor4D, query: tf.Tensor2D, hi: number): tf.Tensor2D;
  beforeTask?(ctx: TaskContext): void;
  afterTask?(ctx: TaskContext): void;
}
