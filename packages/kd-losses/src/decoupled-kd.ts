import * as tf from '@tensorflow/tfjs';
import { ConfigError, type KdLossInput } from '@promptkd/core';
import {
  type ColumnRange,
  expectLabels,
  expectNonNegative,
  expectPositive,
  expectRank,
  expectSameBatch,
  expectSameShape,
  expectUnitInterval,
  resolveColumns,
} from './internal/checks.js';
import { maskedCrossEntropyUnchecked, selectTeacherColumns, sliceColumns, stopGradient } from './internal/tensor-ops.js';
import { requireLabels, requireTap } from './internal/taps.js';
import type { HintonKdInput } from './hinton-kd.js';

/** The amount subtracted from the target class's scaled logit in NCKD (as in the DKD reference code). */
export const DKD_TARGET_SUPPRESSION = 1000;

/** Config of {@link decoupledKdParts}. */
export interface DecoupledKdPartsConfig {
  /** `temperature` — T of DKD (its own; KDP uses 4, not the KD τ). */
  readonly temperature: number;
  /** Distilled classes `[lo, hi)`; targets are re-indexed to `y − lo`. Default: all columns. */
  readonly columns?: ColumnRange;
}

/** Config of {@link decoupledKd}. */
export interface DecoupledKdConfig extends DecoupledKdPartsConfig {
  /** `alpha` — α, weight of TCKD (DKD paper: 1; KDP: 1). */
  readonly alpha: number;
  /** `beta` — β, weight of NCKD (DKD paper: 8 on CIFAR; KDP: 4). */
  readonly beta: number;
  /**
   * Optional CE mix (KDP's α = 0.5): when set to w, the result is `(1 − w)·CE + w·(α·TCKD + β·NCKD)` with CE over
   * the same columns. Omit for the DKD term alone (the reference `dkd_loss`).
   */
  readonly kdWeight?: number;
}

/** The two DKD terms, each already multiplied by T² and divided by the batch size (unweighted). */
export interface DecoupledKdParts {
  /** TCKD: KL over the binary (target, non-target) probability mass. */
  readonly tckd: tf.Scalar;
  /** NCKD: KL over the non-target classes (target logit suppressed). */
  readonly nckd: tf.Scalar;
}

function checkInput(input: HintonKdInput, columns: ColumnRange | undefined): ColumnRange {
  expectRank(input.studentLogits, 2, 'student logits');
  expectRank(input.teacherLogits, 2, 'teacher logits');
  expectSameBatch(input.studentLogits, input.teacherLogits, 'student logits', 'teacher logits');
  const range = resolveColumns(columns, input.studentLogits.shape[1] as number, 'student logits');
  if (range.hi - range.lo < 2) {
    throw new ConfigError(`DKD needs at least 2 distilled classes (a target and a non-target), got [${range.lo}, ${range.hi}).`, {
      field: 'columns',
    });
  }
  expectLabels(input.labels, input.studentLogits.shape[0] as number, range);
  return range;
}

function partsUnchecked(input: HintonKdInput, temperature: number, range: ColumnRange): [tf.Scalar, tf.Scalar] {
  const student = sliceColumns(input.studentLogits as tf.Tensor2D, range);
  const teacherRaw = selectTeacherColumns(input.teacherLogits as tf.Tensor2D, range);
  expectSameShape(student, teacherRaw, 'student logits', 'teacher logits');
  const teacher = stopGradient(teacherRaw);
  const n = student.shape[0];
  const local = range.lo === 0 ? input.labels : tf.sub(input.labels, tf.scalar(range.lo, 'int32'));
  const gt = tf.oneHot(local as tf.Tensor1D, range.hi - range.lo).toFloat();
  const suppress = tf.mul(gt, DKD_TARGET_SUPPRESSION);
  const scale = (temperature * temperature) / n;

  // log of the binary masses [b_target, b_other] = [p_t, 1 − p_t], computed stably in log space.
  const binaryLog = (z: tf.Tensor): [tf.Tensor, tf.Tensor] => {
    const a = tf.div(z, temperature);
    const lse = tf.logSumExp(a, 1);
    const logTarget = tf.sub(tf.sum(tf.mul(a, gt), 1), lse);
    const logOther = tf.sub(tf.logSumExp(tf.sub(a, suppress), 1), lse);
    return [logTarget, logOther];
  };
  const [sT, sO] = binaryLog(student);
  const [tT, tO] = binaryLog(teacher);
  const tckdRows = tf.add(tf.mul(tf.exp(tT), tf.sub(tT, sT)), tf.mul(tf.exp(tO), tf.sub(tO, sO)));
  const tckd = tf.mul(tf.sum(tckdRows), scale) as tf.Scalar;

  const logS2 = tf.logSoftmax(tf.sub(tf.div(student, temperature), suppress));
  const logT2 = tf.logSoftmax(tf.sub(tf.div(teacher, temperature), suppress));
  const nckd = tf.mul(tf.sum(tf.mul(tf.exp(logT2), tf.sub(logT2, logS2))), scale) as tf.Scalar;
  return [tckd, nckd];
}

/**
 * The two terms of Decoupled Knowledge Distillation, with the teacher detached:
 *
 * ```
 * b = [p_t, 1 − p_t] (p = softmax(z/T), t = target)        TCKD = T²/N · Σ_i KL(b^T_i ‖ b^S_i)
 * p̂ = softmax(z/T − 1000·onehot(t))                       NCKD = T²/N · Σ_i KL(p̂^T_i ‖ p̂^S_i)
 * ```
 *
 * `log(1 − p_t)` is a log-sum-exp over the non-target logits, so a confident target never yields −∞.
 *
 * @param input — z^S, z^T (`[N, C]` or teacher `[N, hi − lo]`), y (global labels).
 * @param config — T and the distilled columns.
 * @returns `{tckd, nckd}`; the caller owns both scalars.
 * @see Zhao, Cui, Song, Qiu, Liang. "Decoupled Knowledge Distillation", CVPR 2022, arXiv:2203.08679.
 */
export function decoupledKdParts(input: HintonKdInput, config: DecoupledKdPartsConfig): DecoupledKdParts {
  expectPositive(config.temperature, 'temperature');
  const range = checkInput(input, config.columns);
  const [tckd, nckd] = tf.tidy(() => partsUnchecked(input, config.temperature, range));
  return { tckd, nckd };
}

/**
 * Decoupled KD, `α·TCKD + β·NCKD` (see {@link decoupledKdParts}), optionally mixed with CE as KDP's `DKD` baseline:
 * `(1 − w)·CE + w·(α·TCKD + β·NCKD)` with `w = kdWeight`.
 *
 * @param input — z^S, z^T, y.
 * @param config — α (TCKD weight), β (NCKD weight), T, columns, optional CE mix `kdWeight`.
 * @see Zhao et al. "Decoupled Knowledge Distillation", CVPR 2022, arXiv:2203.08679.
 * @example
 * // KDP's DKD baseline for task classes [10, 20):
 * decoupledKd({ studentLogits, teacherLogits, labels }, { alpha: 1, beta: 4, temperature: 4, columns: { lo: 10, hi: 20 }, kdWeight: 0.5 });
 */
export function decoupledKd(input: HintonKdInput, config: DecoupledKdConfig): tf.Scalar {
  expectPositive(config.temperature, 'temperature');
  expectNonNegative(config.alpha, 'alpha');
  expectNonNegative(config.beta, 'beta');
  if (config.kdWeight !== undefined) expectUnitInterval(config.kdWeight, 'kdWeight');
  const range = checkInput(input, config.columns);
  return tf.tidy(() => {
    const [tckd, nckd] = partsUnchecked(input, config.temperature, range);
    const dkd = tf.add(tf.mul(tckd, config.alpha), tf.mul(nckd, config.beta)) as tf.Scalar;
    if (config.kdWeight === undefined || config.kdWeight === 1) return dkd;
    const ce = maskedCrossEntropyUnchecked(input.studentLogits as tf.Tensor2D, input.labels, range);
    return tf.add(tf.mul(ce, 1 - config.kdWeight), tf.mul(dkd, config.kdWeight)) as tf.Scalar;
  });
}

/** Registry adapter: taps `student.logits`, `teacher.logits`, and `labels`. */
export function decoupledKdLoss(input: KdLossInput, config: DecoupledKdConfig): tf.Scalar {
  return decoupledKd(
    {
      studentLogits: requireTap(input.student, 'logits', 'student'),
      teacherLogits: requireTap(input.teacher, 'logits', 'teacher'),
      labels: requireLabels(input.labels, 'dkd'),
    },
    config,
  );
}
