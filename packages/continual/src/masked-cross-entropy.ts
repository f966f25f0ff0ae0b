import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '@promptkd/core';

/**
 * Masked cross-entropy of class-incremental prompt learning (spec §3.2): logits over the seen classes
 * `[N, hi]`, columns [0, lo) (past tasks) set to −∞, so only the current task's classes [lo, hi)
 * compete. Implemented as the CE over the column slice [lo, hi) — the same value, and the slice's
 * gradient is exactly zero for past columns (so past head rows receive exactly zero gradient).
 *
 * @param logits `[N, hi]` — z (only the first `hi` columns are read when wider).
 * @param labels int32 `[N]` — global class ids in [lo, hi).
 * @param lo first class of the current task.
 * @param hi one past the last class of the current task.
 * @returns batch-mean CE.
 */
export function maskedCrossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D, lo: number, hi: number): tf.Scalar {
  const [n, c] = logits.shape;
  if (hi > c || lo < 0 || lo >= hi) {
    throw new ShapeError(`maskedCrossEntropy needs 0 <= lo < hi <= #columns; got lo=${lo}, hi=${hi}, logits [${n}, ${c}].`);
  }
  return tf.tidy(() => {
    const z = tf.slice(logits, [0, lo], [n, hi - lo]);
    const target = tf.oneHot(tf.sub(labels.toInt(), tf.scalar(lo, 'int32')) as tf.Tensor1D, hi - lo);
    return tf.neg(tf.mean(tf.sum(tf.mul(target, tf.logSoftmax(z)), 1))) as tf.Scalar;
  });
}
