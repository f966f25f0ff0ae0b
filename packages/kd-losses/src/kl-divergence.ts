import * as tf from '@tensorflow/tfjs';
import type { KdLossInput } from '@promptkd/core';
import { type ColumnRange, expectPositive, expectRank, expectSameShape, resolveColumns } from './internal/checks.js';
import { selectTeacherColumns, sliceColumns, stopGradient } from './internal/tensor-ops.js';
import { requireTap } from './internal/taps.js';

/** Options of {@link klDivergence}. */
export interface KlDivergenceOptions {
  /** `temperature` — τ: both distributions are `softmax(z / τ)`; the result is multiplied by τ². */
  readonly temperature: number;
  /**
   * `'batchmean'` (default): sum over classes, mean over the batch (PyTorch `reduction='batchmean'`).
   * `'sum'`: sum over classes and batch.
   */
  readonly reduction?: 'batchmean' | 'sum';
  /**
   * `'forward'` (default): KL(p_target ‖ p_student), the usual distillation direction (target = teacher).
   * `'reversed'`: KL(p_student ‖ p_target), the student's distribution is the reference p
   * (KiOP's host-preservation term: student = prompted host SMA, target = plain host f_A).
   */
  readonly direction?: 'forward' | 'reversed';
  /**
   * When `false` (default) `targetLogits` is detached: it receives a zero gradient, like a teacher computed under
   * `no_grad`. When `true` the gradient also flows through the target distribution.
   */
  readonly targetGradient?: boolean;
  /**
   * Distil only the class columns `[lo, hi)` (KDP: the current task). The student's logits are sliced; the target
   * may hold either exactly `hi − lo` columns (already restricted) or at least `hi`. Default: all columns.
   */
  readonly columns?: ColumnRange;
}

/**
 * Temperature-scaled Kullback–Leibler divergence between two sets of logits, computed with `logSoftmax`
 * (no `log(softmax)`, no NaN when probabilities underflow).
 *
 * ```
 * forward:  L = τ² · (1/N) Σ_i Σ_c p_ic (log p_ic − log q_ic),  p = softmax(target/τ), q = softmax(student/τ)
 * reversed: L = τ² · (1/N) Σ_i Σ_c q_ic (log q_ic − log p_ic)
 * ```
 *
 * KiOP's preservation term as coded, `KL_τ(SMA(x_A) ‖ f_A(x_A))` with the gradient through the prompted output,
 * is `klDivergence(smaLogits, hostLogits, { temperature: 20, direction: 'reversed' })`. Written with the code's
 * argument roles it is equivalently `klDivergence(hostLogits, smaLogits, { temperature: 20, targetGradient: true })`.
 *
 * @param studentLogits — z^S, shape `[N, C]` (always receives gradient).
 * @param targetLogits — z^T (teacher / reference), shape `[N, C]` (or `[N, hi − lo]` with `columns`).
 * @param options — τ, reduction, direction, target gradient, column range.
 * @returns a scalar; the caller owns it.
 * @throws ShapeError on rank ≠ 2, empty batch, or mismatched shapes/class counts.
 * @throws ConfigError on a non-positive temperature or invalid column range.
 * @see Hinton, Vinyals, Dean. "Distilling the Knowledge in a Neural Network", arXiv:1503.02531, 2015.
 * @example
 * const loss = klDivergence(student, teacher, { temperature: 4 }); // Hinton soft-target term
 */
export function klDivergence(
  studentLogits: tf.Tensor,
  targetLogits: tf.Tensor,
  options: KlDivergenceOptions,
): tf.Scalar {
  const { temperature, reduction = 'batchmean', direction = 'forward', targetGradient = false } = options;
  expectPositive(temperature, 'temperature');
  expectRank(studentLogits, 2, 'student logits');
  expectRank(targetLogits, 2, 'target logits');
  const range = resolveColumns(options.columns, studentLogits.shape[1] as number, 'student logits');
  return tf.tidy(() => {
    const student = sliceColumns(studentLogits as tf.Tensor2D, range);
    const target = options.columns ? selectTeacherColumns(targetLogits as tf.Tensor2D, range) : targetLogits;
    expectSameShape(student, target, 'student logits', 'target logits');
    const t = targetGradient ? target : stopGradient(target);
    const [pLogits, qLogits] = direction === 'reversed' ? [student, t] : [t, student];
    const logP = tf.logSoftmax(tf.div(pLogits, temperature));
    const logQ = tf.logSoftmax(tf.div(qLogits, temperature));
    const sum = tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)));
    const scale = (temperature * temperature) / (reduction === 'batchmean' ? (student.shape[0] as number) : 1);
    return tf.mul(sum, scale) as tf.Scalar;
  });
}

/** Registry adapter: taps `student.logits`, `teacher.logits`. */
export function klDivergenceLoss(input: KdLossInput, config: KlDivergenceOptions): tf.Scalar {
  return klDivergence(requireTap(input.student, 'logits', 'student'), requireTap(input.teacher, 'logits', 'teacher'), config);
}
