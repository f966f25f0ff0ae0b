import * as tf from '@tensorflow/tfjs';
import type { ClassifierModel } from '@promptkd/core';

/**
 * What a synthesis round's kept batch says about convergence, for the per-epoch diagnostics of a trainer:
 *
 * - `targetAgreement`: fraction of kept images whose teacher argmax is the class y they were synthesised for
 *   (1 when inversion converged; chance 1/K when the generator produced nothing the teacher recognises);
 * - `teacherConfidence`: mean max-softmax of the teacher on the kept images (compare with its value on real data);
 * - `bankMinPerClass` / `bankMaxPerClass`: fewest and most images of one class y in the whole bank after the round.
 */
export function keptBatchDiagnostics(
  teacher: ClassifierModel,
  images: tf.Tensor4D,
  targets: readonly number[],
  bankLabels: readonly number[],
): Record<string, number> {
  const [agree, confidence] = tf.tidy(() => {
    const probs = tf.softmax(teacher.apply(images, { training: false }).logits);
    const hit = tf.equal(tf.argMax(probs, 1), tf.tensor1d(Int32Array.from(targets), 'int32'));
    return [tf.mean(tf.cast(hit, 'float32')).dataSync()[0]!, tf.mean(tf.max(probs, 1)).dataSync()[0]!];
  });
  const counts = new Array<number>(teacher.numClasses).fill(0);
  for (const y of bankLabels) if (y >= 0 && y < counts.length) counts[y]!++;
  return {
    targetAgreement: agree,
    teacherConfidence: confidence,
    bankMinPerClass: Math.min(...counts),
    bankMaxPerClass: Math.max(...counts),
  };
}
