import * as tf from '@tensorflow/tfjs';
import { type ColumnRange, expectLabels, expectRank, resolveColumns } from './internal/checks.js';
import { maskedCrossEntropyUnchecked } from './internal/tensor-ops.js';

/** Options of {@link maskedCrossEntropy}. */
export interface MaskedCrossEntropyOptions {
  /**
   * Only the columns `[lo, hi)` compete in the softmax (KDP / CODA-Prompt: the current task's classes; columns
   * `[0, lo)` are set to −∞ and `[hi, C)` are not yet seen). Default: all columns.
   */
  readonly columns?: ColumnRange;
}

/**
 * Batch-mean cross-entropy on logits restricted to a class range, with global labels:
 *
 * ```
 * CE = −(1/N) Σ_i log softmax(z_i[lo:hi])[y_i − lo]
 * ```
 *
 * Columns outside `[lo, hi)` receive exactly zero gradient (the masked-CE invariant of kdp-spec §8.4).
 *
 * @param logits — z, shape `[N, C]` with `C >= hi`.
 * @param labels — y, int32 `[N]`, global class indices in `[lo, hi)`.
 * @param options — `columns` = `[lo, hi)`.
 * @throws ShapeError on wrong rank, empty batch, label count or labels outside `[lo, hi)`.
 */
export function maskedCrossEntropy(
  logits: tf.Tensor,
  labels: tf.Tensor1D,
  options: MaskedCrossEntropyOptions = {},
): tf.Scalar {
  expectRank(logits, 2, 'logits');
  const range = resolveColumns(options.columns, logits.shape[1] as number, 'logits');
  expectLabels(labels, logits.shape[0] as number, range);
  return tf.tidy(() => maskedCrossEntropyUnchecked(logits as tf.Tensor2D, labels, range));
}
