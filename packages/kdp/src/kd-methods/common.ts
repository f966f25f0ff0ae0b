import * as tf from '@tensorflow/tfjs';
import { ConfigError, type LossResult } from '@promptkd/core';
import { maskedCrossEntropy, type PromptedForward } from '@promptkd/continual';
import { klDivergence, weightedSum } from '@promptkd/kd-losses';
import type { KdLossArgs, TeacherOutputs } from '../types.js';

/** CLS-head logits over the seen classes [0, hi). */
export function seenLogits(student: PromptedForward, hi: number): tf.Tensor2D {
  return tf.slice(student.logits, [0, 0], [student.logits.shape[0], hi]);
}

/** The student's masked CE on the CLS head (spec §3.2) and its key loss (0 when absent). */
export function ceAndPool(args: KdLossArgs): { ce: tf.Scalar; pool: tf.Scalar } {
  const { lo, hi } = args.ctx;
  return {
    ce: maskedCrossEntropy(args.student.logits, args.labels, lo, hi),
    pool: args.student.keyLoss ?? tf.scalar(0),
  };
}

/** Throws when a method that needs the teacher got none. */
export function requireTeacher(teacher: TeacherOutputs | undefined, method: string): TeacherOutputs {
  if (!teacher) throw new ConfigError(`KD method '${method}' needs teacher outputs; train or load a teacher first.`, { field: 'teacher' });
  return teacher;
}

/**
 * τ²·KL(softmax(z^T/τ) ‖ softmax(z^S[lo:hi]/τ)) (batch mean) on the current task's columns; z^T is
 * `[N, hi − lo]` and detached.
 */
export function currentTaskKd(studentLogits: tf.Tensor2D, teacherLogits: tf.Tensor2D, lo: number, hi: number, temperature: number): tf.Scalar {
  return klDivergence(studentLogits, teacherLogits, { temperature, columns: { lo, hi } });
}

/** (1−α)·CE + α·KD + L_pool (+ extra weighted terms), with every term kept for logging. */
export function mixLoss(
  alpha: number,
  ce: tf.Scalar,
  kd: tf.Scalar,
  pool: tf.Scalar,
  extra: Readonly<Record<string, readonly [number, tf.Scalar]>> = {},
): LossResult {
  return weightedSum({ ce: [1 - alpha, ce], kd: [alpha, kd], pool: [1, pool], ...extra });
}
