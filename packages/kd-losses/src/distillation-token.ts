import * as tf from '@tensorflow/tfjs';
import type { KdLossInput, LossResult } from '@promptkd/core';
import { type ColumnRange, expectLabels, expectRank, expectSameBatch, expectUnitInterval, resolveColumns } from './internal/checks.js';
import { maskedCrossEntropyUnchecked } from './internal/tensor-ops.js';
import { requireTap } from './internal/taps.js';
import { klDivergence } from './kl-divergence.js';
import { weightedSum } from './weighted-sum.js';

/** Config of {@link distillationTokenKd}. */
export interface DistillationTokenConfig {
  /** `temperature` — τ (KDP: 2). */
  readonly temperature: number;
  /** The current task's classes `[lo, hi)`; the KD head's columns outside receive no gradient. Default: all. */
  readonly columns?: ColumnRange;
  /** Student tap holding the KD-head logits k(h_KD). Default `'kdLogits'`. */
  readonly studentTap?: string;
}

/**
 * The distillation-token loss of DeiT-style soft distillation and KDP: the KD head reads the KD token and is trained
 * only by the teacher, on the current task's columns:
 *
 * ```
 * L_KD = τ² · KL(softmax(z^T[lo:hi]/τ) ‖ softmax(z_kd[lo:hi]/τ))      (batch mean; z^T detached)
 * ```
 *
 * @param kdLogits — z_kd = k(h_KD), `[N, C_total]` (or `[N, C]` with C >= hi).
 * @param teacherLogits — z^T, `[N, hi − lo]` (as KDP computes it) or full `[N, >= hi]`.
 * @param config — τ and `[lo, hi)`.
 * @see Touvron et al. "Training data-efficient image transformers & distillation through attention", ICML 2021,
 *   arXiv:2012.12877; KDP: Zhang, Guo, Xiang, "Continual Distillation Learning", arXiv:2407.13911.
 */
export function distillationTokenKd(
  kdLogits: tf.Tensor,
  teacherLogits: tf.Tensor,
  config: DistillationTokenConfig,
): tf.Scalar {
  return klDivergence(kdLogits, teacherLogits, {
    temperature: config.temperature,
    ...(config.columns ? { columns: config.columns } : {}),
  });
}

/** Inputs of {@link kdpStudentObjective}. */
export interface KdpStudentInput {
  /** z_cls = g(h_CLS): CLS-head logits `[N, C]` (trained by CE only). */
  readonly clsLogits: tf.Tensor;
  /** z_kd = k(h_KD): KD-head logits `[N, C]` (trained by the KD term only). */
  readonly kdLogits: tf.Tensor;
  /** z^T on the current columns. */
  readonly teacherLogits: tf.Tensor;
  /** y, int32 global labels in `[lo, hi)`. */
  readonly labels: tf.Tensor1D;
}

/**
 * KDP's student loss without the prompt-pool term (kdp-spec §5.2), returned per term for logging:
 * `total = (1 − α)·CE(z_cls[lo:hi], y − lo) + α·L_KD(z_kd)`, `terms = {ce, kd}` (unweighted). Add `L_pool` with
 * {@link weightedSum}. The caller owns all returned scalars.
 *
 * @param config — `alpha` — α (0.5), `temperature` — τ (2), `columns` — `[lo, hi)`.
 */
export function kdpStudentObjective(
  input: KdpStudentInput,
  config: DistillationTokenConfig & { readonly alpha: number },
): LossResult {
  expectUnitInterval(config.alpha, 'alpha');
  expectRank(input.clsLogits, 2, 'CLS-head logits');
  expectSameBatch(input.clsLogits, input.kdLogits, 'CLS-head logits', 'KD-head logits');
  const range = resolveColumns(config.columns, input.clsLogits.shape[1] as number, 'CLS-head logits');
  expectLabels(input.labels, input.clsLogits.shape[0] as number, range);
  const kd = distillationTokenKd(input.kdLogits, input.teacherLogits, config);
  const ce = tf.tidy(() => maskedCrossEntropyUnchecked(input.clsLogits as tf.Tensor2D, input.labels, range));
  return weightedSum({ ce: [1 - config.alpha, ce], kd: [config.alpha, kd] });
}

/** Registry adapter: taps `student.kdLogits` (configurable) and `teacher.logits`. */
export function distillationTokenLoss(input: KdLossInput, config: DistillationTokenConfig): tf.Scalar {
  return distillationTokenKd(
    requireTap(input.student, config.studentTap ?? 'kdLogits', 'student'),
    requireTap(input.teacher, 'logits', 'teacher'),
    config,
  );
}
