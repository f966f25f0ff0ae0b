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

/**
 * The `gradFunc` of a fused op whose input gradients all come from ONE run of its gradient kernel: `gradKernel` gets
 * `{ dy, [saved[i]]: the i-th saved tensor }` (saved inputs, then saved outputs, in the config's order) and the op's
 * attributes, and its outputs are the gradients of `inputs`, in order. The kernel runs here, not in the per-input
 * callbacks: the engine runs each of those in its own tidy, which would free the others. For ops with several
 * outputs only the first carries a gradient (the others are statistics or kept for the backward pass).
 */
export function gradientFromKernel(gradKernel: string, saved: readonly string[], inputs: readonly string[]): tf.GradFunc {
  return (dys, savedTensors, attrs) => {
    const dy = (Array.isArray(dys) ? dys[0] : dys) as tf.Tensor;
    const kernelInputs: tf.NamedTensorMap = { dy };
    saved.forEach((name, i) => (kernelInputs[name] = savedTensors[i] as tf.Tensor));
    const grads = tf.engine().runKernel(gradKernel, kernelInputs, attrs as tf.NamedAttrMap) as tf.Tensor[];
    return Object.fromEntries(inputs.map((name, i) => [name, () => grads[i] as tf.Tensor]));
  };
}
