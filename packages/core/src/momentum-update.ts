import * as tf from '@tensorflow/tfjs';
import { hasFusedKernels } from './gelu.js';

/**
 * Kernel name of the fused SGD-with-momentum update: inputs `{ x, g, accumulation }`, attrs
 * {@link MomentumUpdateAttrs}, outputs `[x′, accumulation′]`. A backend may register it (tfjs-env does).
 */
export const MOMENTUM_UPDATE_KERNEL = 'PromptkdMomentumUpdate';

/** Hyper-parameters of one SGD-with-momentum step (PyTorch's `torch.optim.SGD`, dampening 0). */
export interface MomentumUpdateAttrs {
  /** η, the learning rate. */
  readonly learningRate: number;
  /** μ, the momentum. */
  readonly momentum: number;
  /** Nesterov momentum: step along g + μ·b′ instead of b′. */
  readonly nesterov: boolean;
}

/**
 * One SGD-with-momentum step on a float32 parameter `x` with gradient `g` (weight decay already added) and
 * momentum buffer `b`: b′ = μb + g, x′ = x − η·b′ (Nesterov: x − η·(g + μb′)). One fused kernel where the backend
 * registers {@link MOMENTUM_UPDATE_KERNEL}, the composition of tfjs ops elsewhere. Returns new tensors.
 */
export function momentumUpdate(x: tf.Tensor, g: tf.Tensor, b: tf.Tensor, attrs: MomentumUpdateAttrs): [tf.Tensor, tf.Tensor] {
  if (x.dtype === 'float32' && g.dtype === 'float32' && hasFusedKernels(MOMENTUM_UPDATE_KERNEL)) {
    return tf.engine().runKernel(MOMENTUM_UPDATE_KERNEL, { x, g, accumulation: b }, attrs as unknown as tf.NamedAttrMap) as unknown as [tf.Tensor, tf.Tensor];
  }
  const { learningRate, momentum, nesterov } = attrs;
  return tf.tidy(() => {
    const b1 = tf.add(tf.mul(b, momentum), g);
    const step = nesterov ? tf.add(g, tf.mul(b1, momentum)) : b1;
    return [tf.sub(x, tf.mul(step, learningRate)), b1] as [tf.Tensor, tf.Tensor];
  });
}
