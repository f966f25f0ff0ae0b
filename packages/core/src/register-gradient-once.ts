import * as tf from '@tensorflow/tfjs';

const registered = new Set<string>();

/**
 * Registers a fused op's gradient the first time the op runs (a cheap check on every later call), unless a gradient
 * for its kernel is registered already, e.g. by another copy of this package.
 */
export function registerGradientOnce(config: tf.GradConfig): void {
  if (registered.has(config.kernelName)) return;
  if (!tf.getGradient(config.kernelName)) tf.registerGradient(config);
  registered.add(config.kernelName);
}
