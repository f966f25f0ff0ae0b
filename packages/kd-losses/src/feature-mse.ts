import * as tf from '@tensorflow/tfjs';
import type { KdLossInput } from '@promptkd/core';
import { expectMinRank, expectSameShape } from './internal/checks.js';
import { stopGradient } from './internal/tensor-ops.js';
import { requireTap } from './internal/taps.js';

/** Config of the `featureMse` registry entry. */
export interface FeatureMseConfig {
  /** Student tap name. Default `'features'`. */
  readonly studentTap?: string;
  /** Teacher tap name. Default `'features'`. */
  readonly teacherTap?: string;
}

/**
 * Plain feature matching: the mean squared error over all elements (PyTorch `F.mse_loss`, `reduction='mean'`),
 * with the teacher features detached.
 *
 * ```
 * L = (1/|F|) Σ (F^S − F^T)²
 * ```
 *
 * @param studentFeatures — F^S, any shape of rank >= 2 (e.g. `[N, T, D]` tokens), non-empty.
 * @param teacherFeatures — F^T, the same shape (no gradient).
 * @throws ShapeError on mismatched shapes, rank < 2 or an empty batch.
 * @see Romero et al. "FitNets: Hints for Thin Deep Nets", ICLR 2015, arXiv:1412.6550 (without the regressor).
 */
export function featureMse(studentFeatures: tf.Tensor, teacherFeatures: tf.Tensor): tf.Scalar {
  expectMinRank(studentFeatures, 2, 'student features');
  expectMinRank(teacherFeatures, 2, 'teacher features');
  expectSameShape(studentFeatures, teacherFeatures, 'student features', 'teacher features');
  return tf.tidy(() => tf.mean(tf.squaredDifference(studentFeatures, stopGradient(teacherFeatures))) as tf.Scalar);
}

/** Registry adapter: taps `student.features`, `teacher.features` (names configurable). */
export function featureMseLoss(input: KdLossInput, config: FeatureMseConfig = {}): tf.Scalar {
  return featureMse(
    requireTap(input.student, config.studentTap ?? 'features', 'student'),
    requireTap(input.teacher, config.teacherTap ?? 'features', 'teacher'),
  );
}
