import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '@promptkd/core';
import type { ContrastiveHead } from './contrastive-head.js';

/** Identity in the forward pass, zero gradient (PyTorch `.detach()`). */
export const stopGradient = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
  save([x]);
  return { value: tf.clone(x), gradFunc: (_dy: tf.Tensor, saved: tf.Tensor[]) => tf.zerosLike(saved[0] as tf.Tensor) };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (x: tf.Tensor) => tf.Tensor;

/** Inputs of {@link cmiContrastiveLoss}. */
export interface ContrastiveInputs {
  /** l: instance-mean features of the local views of the current batch, [N, D]. */
  readonly local: tf.Tensor2D;
  /** g: instance-mean features of the global views of the current batch, [N, D]. */
  readonly global: tf.Tensor2D;
  /** c_l: cached local features sampled from the feature bank, [M, D] (M may be 0 / absent). */
  readonly cachedLocal?: tf.Tensor2D;
  /** c_g: cached global features, [M, D]. */
  readonly cachedGlobal?: tf.Tensor2D;
}

/**
 * CMI's instance-discrimination loss `L_cr`:
 *
 *   P_l = h([l; c_l]),  P_g = stopgrad(h([g; c_g])),  logits = P_l · P_gᵀ / τ,  ce_i = CE(logits_i, i)
 *   L_cr = mean(ce_1..N) + mean(ce_N+1..N+M)   when M > 0, else mean(ce_1..N)
 *
 * (the split keeps the current batch's gradient from being diluted by the cached rows).
 * Gradient reaches the head and the local features only; the global rows are detached, as in the reference.
 *
 * @param head — the projection head h (L2-normalised output).
 * @param temperature — τ (`cr_T`, KiOP 0.6).
 */
export function cmiContrastiveLoss(head: ContrastiveHead, inputs: ContrastiveInputs, temperature: number): tf.Scalar {
  const n = inputs.local.shape[0];
  const m = inputs.cachedLocal?.shape[0] ?? 0;
  if (inputs.global.shape[0] !== n || (inputs.cachedGlobal?.shape[0] ?? 0) !== m) {
    throw new ShapeError('cmiContrastiveLoss: local and global features (and their cached parts) must have equal rows.', {
      local: n,
      global: inputs.global.shape[0],
      cachedLocal: m,
      cachedGlobal: inputs.cachedGlobal?.shape[0] ?? 0,
    });
  }
  return tf.tidy(() => {
    const stackL = m > 0 ? tf.concat([inputs.local, inputs.cachedLocal as tf.Tensor2D], 0) : inputs.local;
    const stackG = m > 0 ? tf.concat([inputs.global, inputs.cachedGlobal as tf.Tensor2D], 0) : inputs.global;
    const pL = head.apply(stackL);
    const pG = stopGradient(head.apply(stackG)) as tf.Tensor2D;
    const logits = tf.div(tf.matMul(pL, tf.transpose(pG)), temperature);
    // CE with the positive on the diagonal: logsumexp(logits_i) − logits_ii, and logits_ii = <pL_i, pG_i>/τ.
    const diag = tf.div(tf.sum(tf.mul(pL, pG), 1), temperature);
    const ce = tf.sub(tf.logSumExp(logits, 1), diag);
    if (m === 0) return tf.mean(ce) as tf.Scalar;
    const [ceCur, ceCached] = tf.split(ce, [n, m], 0) as [tf.Tensor1D, tf.Tensor1D];
    return tf.add(tf.mean(ceCur), tf.mean(ceCached)) as tf.Scalar;
  });
}
