import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '@promptkd/core';

/**
 * w_i = [argmax t_i = argmax s_i] as float32, a constant for autodiff (computed inside a custom-gradient op so
 * the tape never sees the non-differentiable argmax/equal).
 */
const agreementMask = tf.customGrad(((t: tf.Tensor, s: tf.Tensor, save: tf.GradSaveFunc) => {
  save([t, s]);
  return {
    value: tf.cast(tf.equal(tf.argMax(t, 1), tf.argMax(s, 1)), 'float32'),
    gradFunc: (_dy: tf.Tensor, saved: tf.Tensor[]) => [tf.zerosLike(saved[0] as tf.Tensor), tf.zerosLike(saved[1] as tf.Tensor)],
  };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as (t: tf.Tensor, s: tf.Tensor) => tf.Tensor1D;

/**
 * CMI's decision-adversarial loss `L_adv` (temperature 1):
 *
 *   L_adv = −(1/N) Σ_i w_i · KL( softmax(o_T,i) ‖ softmax(o_S,i) ),   w_i = [argmax o_S,i = argmax o_T,i]
 *
 * Minimising it pushes the generator towards images on which the student still agrees with the teacher's
 * decision but disagrees in distribution. Gradients flow through both logit tensors (neither is detached,
 * as in the reference).
 *
 * @param teacherLogits — o_T, shape [N, K].
 * @param studentLogits — o_S, shape [N, K].
 */
export function adversarialLoss(teacherLogits: tf.Tensor2D, studentLogits: tf.Tensor2D): tf.Scalar {
  if (teacherLogits.shape[0] !== studentLogits.shape[0] || teacherLogits.shape[1] !== studentLogits.shape[1]) {
    throw new ShapeError(
      `adversarialLoss: teacher logits ${JSON.stringify(teacherLogits.shape)} and student logits ` +
        `${JSON.stringify(studentLogits.shape)} must have the same shape [N, K] (map the student's classes first).`,
      { teacher: teacherLogits.shape, student: studentLogits.shape },
    );
  }
  return tf.tidy(() => {
    const logP = tf.logSoftmax(teacherLogits);
    const logQ = tf.logSoftmax(studentLogits);
    const kl = tf.sum(tf.mul(tf.exp(logP), tf.sub(logP, logQ)), 1);
    const agree = agreementMask(teacherLogits, studentLogits);
    return tf.neg(tf.mean(tf.mul(kl, agree))) as tf.Scalar;
  });
}
