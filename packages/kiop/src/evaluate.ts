import * as tf from '@tensorflow/tfjs';
import type { EvalSet } from './ports.js';

/** Top-1 accuracy of `logitsOf` over an evaluation set and how often each class was predicted (batches are disposed here). */
export async function evaluatePredictions(
  logitsOf: (x: tf.Tensor4D) => tf.Tensor2D,
  data: EvalSet,
): Promise<{ accuracy: number; predicted: number[] }> {
  let correct = 0;
  let total = 0;
  const predicted: number[] = [];
  for await (const { x, y } of data()) {
    const pred = tf.tidy(() => tf.argMax(logitsOf(x), 1));
    const [p, labels] = await Promise.all([pred.data(), y.data()]);
    for (let i = 0; i < p.length; i++) {
      const c = p[i] as number;
      predicted[c] = (predicted[c] ?? 0) + 1;
      if (c === labels[i]) correct++;
    }
    total += p.length;
    tf.dispose([pred, x, y]);
  }
  return { accuracy: total === 0 ? Number.NaN : correct / total, predicted: Array.from(predicted, (n) => n ?? 0) };
}

/** Top-1 accuracy of `logitsOf` over an evaluation set (batches are disposed here). */
export async function top1Accuracy(logitsOf: (x: tf.Tensor4D) => tf.Tensor2D, data: EvalSet): Promise<number> {
  return (await evaluatePredictions(logitsOf, data)).accuracy;
}

/**
 * Diagnostic: the effective number of classes a model predicts, exp(entropy) of its prediction counts — K when every
 * class is predicted equally often, 1 when it answers one class for every image (a prompt that overrides the image).
 */
export function effectiveClasses(predicted: readonly number[]): number {
  const total = predicted.reduce((a, b) => a + b, 0);
  if (total === 0) return Number.NaN;
  return Math.exp(-predicted.reduce((h, n) => (n > 0 ? h + (n / total) * Math.log(n / total) : h), 0));
}
