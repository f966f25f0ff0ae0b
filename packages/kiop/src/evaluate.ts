import * as tf from '@tensorflow/tfjs';
import type { EvalSet } from './ports.js';

/** Top-1 accuracy of `logitsOf` over an evaluation set (batches are disposed here). */
export async function top1Accuracy(logitsOf: (x: tf.Tensor4D) => tf.Tensor2D, data: EvalSet): Promise<number> {
  let correct = 0;
  let total = 0;
  for await (const { x, y } of data()) {
    const hits = tf.tidy(() => tf.equal(tf.argMax(logitsOf(x), 1).toInt(), y.toInt()).sum());
    correct += (await hits.data())[0] as number;
    total += y.shape[0];
    tf.dispose([hits, x, y]);
  }
  return total === 0 ? Number.NaN : correct / total;
}
