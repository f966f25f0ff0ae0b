import * as tf from '@tensorflow/tfjs';
import { NonFiniteError } from './errors.js';

/** Disposes every tensor found in a (nested) container; ignores everything else. */
export function disposeAll(container: unknown): void {
  tf.dispose(container as tf.TensorContainer);
}

/**
 * Throws {@link NonFiniteError} when a scalar value is NaN or ±Inf, naming the step and loss term.
 * Call it on numbers already read from the device (no extra sync).
 */
export function assertFinite(value: number, where: { step?: number; term?: string; what?: string } = {}): void {
  if (!Number.isFinite(value)) {
    const at = [where.what ?? 'value', where.term ? `term '${where.term}'` : '', where.step !== undefined ? `at step ${where.step}` : '']
      .filter(Boolean)
      .join(' ');
    throw new NonFiniteError(
      `${at} is ${value}. The run was stopped; the last good checkpoint is kept. ` +
        'Lower the learning rate or check the inputs for NaN.',
      { ...where, value },
    );
  }
}

/** Reads a scalar tensor as a number without leaking it (the tensor is not disposed). */
export function scalarValue(t: tf.Tensor): number {
  return t.dataSync()[0] as number;
}

/**
 * Disposes a `tf.train` optimizer completely. TensorFlow.js 4.22's `MomentumOptimizer.dispose()` frees its
 * momentum scalar and accumulators but not the learning-rate scalar it inherits from `SGDOptimizer`, leaking one
 * tensor per optimizer; this frees that one too.
 */
export function disposeOptimizer(optimizer: tf.Optimizer): void {
  optimizer.dispose();
  if (optimizer.getClassName() === 'Momentum') {
    const c = (optimizer as unknown as { c?: tf.Tensor }).c;
    if (c && !c.isDisposed) c.dispose();
  }
}
