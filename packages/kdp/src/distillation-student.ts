import * as tf from '@tensorflow/tfjs';
import type { LossResult, TaskContext } from '@promptkd/core';
import type { Batch, Learner, PromptedClassifier, PromptedForward } from '@promptkd/continual';
import type { TeacherSource } from './teacher.js';
import type { KdMethod } from './types.js';

/**
 * The student of continual distillation (spec §4, §5): a prompt-based CL model (same CL method as the
 * teacher) plus the KD method's parts. As a {@link Learner} its loss is the KD method's student loss with the
 * frozen teacher's outputs, and its prediction the method's rule (CLS head, or (1−α)·g + α·k for KDP/DeiT).
 * Trainable: CL prompts + g + the KD parts (KD token/prefixes/head, FitNets regressor, ReviewKD ABFs).
 */
export class DistillationStudent implements Learner {
  constructor(
    readonly model: PromptedClassifier,
    readonly method: KdMethod,
    /** Teacher outputs; may be undefined for `none`. Replace it per task with {@link DistillationStudent.setTeacher}. */
    private teacher: TeacherSource | undefined,
  ) {}

  setTeacher(teacher: TeacherSource | undefined): void {
    this.teacher = teacher;
  }

  /** Student forward with the method's extras (KD token, KD prefixes) and taps. */
  forward(x: tf.Tensor4D, query: tf.Tensor2D, training: boolean): PromptedForward {
    const extras = this.method.studentExtras(x.shape[0]);
    return this.model.forward(x, query, {
      training,
      ...(extras.extraTokens ? { extraTokens: extras.extraTokens } : {}),
      ...(extras.appendPrefixes ? { appendPrefixes: extras.appendPrefixes } : {}),
      ...(training && this.method.studentBlocks ? { blockOutputs: true } : {}),
    });
  }

  loss(batch: Batch, ctx: TaskContext): LossResult {
    const teacher = this.method.usesTeacher ? this.teacher?.outputs(batch, ctx, this.method.teacherFeatures) : undefined;
    const student = this.forward(batch.x, batch.query, true);
    return this.method.loss({ student, teacher, labels: batch.y, ctx });
  }

  predict(x: tf.Tensor4D, query: tf.Tensor2D, hi: number): tf.Tensor2D {
    return tf.tidy(() => this.method.predict(this.forward(x, query, false), hi));
  }

  /**
   * The prediction and, for token methods, each head alone (`g`, `k`) over classes [0, hi), from one eval-mode
   * forward (see {@link KdMethod.heads}).
   */
  headScores(x: tf.Tensor4D, query: tf.Tensor2D, hi: number): Record<string, tf.Tensor2D> {
    const out = this.forward(x, query, false);
    return { prediction: this.method.predict(out, hi), ...(this.method.heads?.(out, hi) ?? {}) };
  }

  beforeTask(ctx: TaskContext): void {
    this.model.beforeTask(ctx);
  }

  afterTask(ctx: TaskContext): void {
    this.model.afterTask(ctx);
  }

  trainableVariables(): tf.Variable[] {
    return [...this.model.trainableVariables(), ...this.method.trainableVariables()];
  }

  namedVariables(): ReadonlyMap<string, tf.Variable> {
    const m = new Map(this.model.namedVariables());
    for (const [k, v] of this.method.namedVariables()) m.set(k, v);
    return m;
  }

  dispose(): void {
    this.model.dispose();
    this.method.dispose();
  }
}
