import * as tf from '@tensorflow/tfjs';
import { assertFinite } from '@promptkd/core';

/**
 * Stops a run when a loss term is NaN or ±Inf: throws `NonFiniteError` naming the step and the term
 * (`details.step`, `details.term`). Pass numbers already read from the device. Returns `losses` unchanged.
 */
export function guardFinite<T extends Readonly<Record<string, number>>>(losses: T, where: { step: number; epoch?: number }): T {
  for (const [term, value] of Object.entries(losses)) assertFinite(value, { step: where.step, term, what: 'loss' });
  return losses;
}

/**
 * Checks weights (or any tensors) for NaN/±Inf with ONE device read for all of them; throws `NonFiniteError`
 * naming the first bad tensor as the term. Leaves no tensors behind.
 */
export function guardFiniteTensors(tensors: Readonly<Record<string, tf.Tensor>>, where: { step: number }): void {
  const names = Object.keys(tensors);
  if (names.length === 0) return;
  // x * 0 is 0 for finite x and NaN for NaN/±Inf, so one sum per tensor flags it.
  const stacked = tf.tidy(() => tf.stack(names.map((n) => tf.sum(tf.mul(tf.cast(tensors[n] as tf.Tensor, 'float32'), 0)))));
  const flags = stacked.dataSync();
  stacked.dispose();
  names.forEach((n, i) => assertFinite(flags[i] as number, { step: where.step, term: n, what: 'weight' }));
}
