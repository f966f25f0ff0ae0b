import type * as tf from '@tensorflow/tfjs';
import { klDivergence } from '@promptkd/kd-losses';

/**
 * KiOP's KD terms (kiop-spec §4.1), τ²-scaled batch-mean KL.
 *
 * - source term L_B = KL_τ(f_B(x) ‖ SM_k(x)): teacher logits are the target (no gradient: f_B is frozen).
 * - preservation term L_A: paper KL_τ(P_MA ‖ P_SMA) (`forward`), or the code's reversed order in which the
 *   prompted output is the target distribution and the gradient flows through it (`reversed`).
 */
export function sourceTerm(studentLogits: tf.Tensor2D, teacherLogits: tf.Tensor2D, temperature: number): tf.Scalar {
  return klDivergence(studentLogits, teacherLogits, { temperature });
}

/** Preservation term; `hostLogits` = f_A(x_A) (no trainable inputs), `promptedLogits` = SMA(x_A). */
export function preservationTerm(
  promptedLogits: tf.Tensor2D,
  hostLogits: tf.Tensor2D,
  options: { temperature: number; order: 'forward' | 'reversed' },
): tf.Scalar {
  if (options.order === 'forward') {
    return klDivergence(promptedLogits, hostLogits, { temperature: options.temperature });
  }
  // KL_τ(P_SMA ‖ P_MA): the prompted output is the distribution p, gradients flow through it.
  return klDivergence(promptedLogits, hostLogits, { temperature: options.temperature, direction: 'reversed' });
}
