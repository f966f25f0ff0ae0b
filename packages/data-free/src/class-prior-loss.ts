import * as tf from '@tensorflow/tfjs';
import { ConfigError, type Rng, ShapeError } from '@promptkd/core';

/**
 * Class-prior ("one-hot") loss `L_oh` of DeepInversion/CMI: mean cross-entropy of the teacher's logits
 * against the round's target classes y.
 *
 * @param logits — teacher logits o_T, shape [N, K].
 * @param targets — target classes y (length N), integers in [0, K).
 */
export function classPriorLoss(logits: tf.Tensor2D, targets: readonly number[] | Int32Array): tf.Scalar {
  const [n, k] = logits.shape;
  if (targets.length !== n) {
    throw new ShapeError(`classPriorLoss: ${targets.length} targets for a batch of ${n} logits rows.`, {
      targets: targets.length,
      batch: n,
    });
  }
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.tensor1d(Array.from(targets), 'int32'), k);
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  });
}

/**
 * N integers drawn uniformly from [0, K), sorted ascending (fixed for one synthesis round, as in CMI, which sorts
 * "for better visualisation").
 *
 * @param n — synthesis batch size N.
 * @param numClasses — K, the teacher's number of classes.
 */
export function sortedRandomTargets(n: number, numClasses: number, rng: Rng): number[] {
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new ConfigError(`numClasses must be a positive integer, got ${numClasses}.`, { field: 'numClasses' });
  }
  const ys = Array.from({ length: n }, () => rng.int(0, numClasses - 1));
  return ys.sort((a, b) => a - b);
}
