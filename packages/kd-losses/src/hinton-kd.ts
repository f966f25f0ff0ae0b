import * as tf from '@tensorflow/tfjs';
import type { KdLossInput } from '@promptkd/core';
import {
  type ColumnRange,
  expectLabels,
  expectRank,
  expectSameBatch,
  expectUnitInterval,
  resolveColumns,
} from './internal/checks.js';
import { maskedCrossEntropyUnchecked } from './internal/tensor-ops.js';
import { requireLabels, requireTap } from './internal/taps.js';
import { klDivergence } from './kl-divergence.js';

/** Config of {@link hintonKd}. */
export interface HintonKdConfig {
  /** `alpha` — α, the mix: `(1 − α)·CE + α·KD`. KDP uses 0.5; α = 0 is plain CE ("student alone"). */
  readonly alpha: number;
  /** `temperature` — τ (KDP: 2, Hinton et al. fixture: 4). */
  readonly temperature: number;
  /**
   * Class range `[lo, hi)` that is distilled **and** competes in the CE (KDP distils only the current task's
   * classes; its CE masks `[0, lo)` to −∞ over the seen classes `[0, hi)`, which is the same as CE over
   * `[lo, hi)`). Default: all columns.
   */
  readonly columns?: ColumnRange;
}

/** Tensors of {@link hintonKd}. */
export interface HintonKdInput {
  /** z^S: student logits `[N, C]`. */
  readonly studentLogits: tf.Tensor;
  /** z^T: teacher logits `[N, C]`, or `[N, hi − lo]` when they are already restricted to the columns. */
  readonly teacherLogits: tf.Tensor;
  /** y: int32 `[N]`, global class indices (inside `columns`). */
  readonly labels: tf.Tensor1D;
}

/**
 * Hinton soft-target distillation mixed with cross-entropy, as in KDP's `KD` baseline:
 *
 * ```
 * L = (1 − α)·CE(z^S[lo:hi], y − lo) + α·τ²·KL(softmax(z^T[lo:hi]/τ) ‖ softmax(z^S[lo:hi]/τ))   (KL batch-mean)
 * ```
 *
 * The teacher logits are detached (zero gradient).
 *
 * @see Hinton, Vinyals, Dean. "Distilling the Knowledge in a Neural Network", NIPS DL Workshop 2014, arXiv:1503.02531.
 * @example
 * const loss = hintonKd({ studentLogits, teacherLogits, labels }, { alpha: 0.5, temperature: 2, columns: { lo: 10, hi: 20 } });
 */
export function hintonKd(input: HintonKdInput, config: HintonKdConfig): tf.Scalar {
  const { studentLogits, teacherLogits, labels } = input;
  expectUnitInterval(config.alpha, 'alpha');
  expectRank(studentLogits, 2, 'student logits');
  expectRank(teacherLogits, 2, 'teacher logits');
  expectSameBatch(studentLogits, teacherLogits, 'student logits', 'teacher logits');
  const range = resolveColumns(config.columns, studentLogits.shape[1] as number, 'student logits');
  expectLabels(labels, studentLogits.shape[0] as number, range);
  return tf.tidy(() => {
    const kd = klDivergence(studentLogits, teacherLogits, {
      temperature: config.temperature,
      ...(config.columns ? { columns: config.columns } : {}),
    });
    if (config.alpha === 1) return kd;
    const ce = maskedCrossEntropyUnchecked(studentLogits as tf.Tensor2D, labels, range);
    return tf.add(tf.mul(ce, 1 - config.alpha), tf.mul(kd, config.alpha)) as tf.Scalar;
  });
}

/** Registry adapter: taps `student.logits`, `teacher.logits`, and `labels`. */
export function hintonKdLoss(input: KdLossInput, config: HintonKdConfig): tf.Scalar {
  return hintonKd(
    {
      studentLogits: requireTap(input.student, 'logits', 'student'),
      teacherLogits: requireTap(input.teacher, 'logits', 'teacher'),
      labels: requireLabels(input.labels, 'hinton'),
    },
    config,
  );
}
