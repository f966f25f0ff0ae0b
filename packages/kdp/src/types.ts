import type * as tf from '@tensorflow/tfjs';
import type * as z from 'zod';
import type { kdHyperParamsSchema } from './presets.js';
import type { LossResult, Rng, TaskContext } from '@promptkd/core';
import type { PrefixKV, PromptedForward } from '@promptkd/continual';

/** Hyper-parameters shared by the KD methods (spec §4, §5; fields documented on {@link kdHyperParamsSchema}). */
export type KdHyperParams = z.infer<typeof kdHyperParamsSchema>;

/** What a KD method needs to know to build its student-side parts. */
export interface KdMethodArgs {
  readonly hyper: KdHyperParams;
  /** D_S and student depth. */
  readonly studentDim: number;
  readonly studentDepth: number;
  /** D_T and teacher depth (feature methods). */
  readonly teacherDim: number;
  readonly teacherDepth: number;
  /** C — classes over the stream (KD head width). */
  readonly numClasses: number;
  /** Seeded generator for the KD parts' initialisation. */
  readonly rng: Rng;
}

/** Which teacher tensors a method needs besides the current-task logits. */
export type TeacherFeatureNeed = 'none' | 'last' | 'blocks';

/** Teacher outputs for one student batch (eval mode, no gradient). */
export interface TeacherOutputs {
  /** z^T restricted to the current task's classes: `[N, hi − lo]`. */
  readonly logits: tf.Tensor2D;
  /** Output of the last teacher block, all tokens, before the final norm (FitNets). */
  readonly last?: tf.Tensor3D;
  /** Outputs of every teacher block (ReviewKD). */
  readonly blocks?: readonly tf.Tensor3D[];
}

/** Extra inputs a method adds to the student's forward (KDP/DeiT). */
export interface StudentExtras {
  readonly extraTokens?: tf.Tensor3D;
  readonly appendPrefixes?: ReadonlyArray<PrefixKV | undefined>;
}

/** Arguments of {@link KdMethod.loss}. */
export interface KdLossArgs {
  /** Student forward in training mode (with this method's extras). */
  readonly student: PromptedForward;
  /** Teacher outputs; undefined for the student-alone method. */
  readonly teacher: TeacherOutputs | undefined;
  /** y (global class ids, int32). */
  readonly labels: tf.Tensor1D;
  readonly ctx: TaskContext;
}

/**
 * A KD method of the CDL benchmark: the student-side parts it adds (KD token/prompts/head, FitNets
 * regressor, ReviewKD ABFs), its loss, and its prediction rule. Registered in `kdMethodRegistry`.
 */
export interface KdMethod {
  readonly key: string;
  /** Whether the method uses the teacher at all (`none` does not). */
  readonly usesTeacher: boolean;
  readonly teacherFeatures: TeacherFeatureNeed;
  /** Student block outputs needed (feature methods). */
  readonly studentBlocks: boolean;
  /** Extra tokens/prefixes for a batch of size n (called inside the gradient scope). */
  studentExtras(n: number): StudentExtras;
  /** Student loss, including the CL key loss (λ = 1). Returns total and unweighted terms. */
  loss(args: KdLossArgs): LossResult;
  /** Prediction scores over classes [0, hi) from an eval-mode student forward. */
  predict(student: PromptedForward, hi: number): tf.Tensor2D;
  /**
   * The heads the prediction mixes, each alone, over classes [0, hi): token methods return `g` (class head on
   * [CLS]) and `k` (KD head on the KD token), whose (1−α)·g + α·k is {@link KdMethod.predict}. Absent when the
   * prediction is a single head.
   */
  heads?(student: PromptedForward, hi: number): Readonly<Record<string, tf.Tensor2D>>;
  /** KD parts by name (persist across tasks; never reset). */
  namedVariables(): ReadonlyMap<string, tf.Variable>;
  trainableVariables(): tf.Variable[];
  dispose(): void;
}
