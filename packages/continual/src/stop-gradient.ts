import * as tf from '@tensorflow/tfjs';

const stop = tf.customGrad(((x: tf.Tensor) => ({
  value: tf.clone(x),
  gradFunc: (dy: tf.Tensor) => tf.zerosLike(dy),
})) as unknown as Parameters<typeof tf.customGrad>[0]);

/**
 * Identity in the forward pass, zero gradient in the backward pass (PyTorch `.detach()`;
 * TensorFlow.js has no `stopGradient`).
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return stop(x) as T;
}
