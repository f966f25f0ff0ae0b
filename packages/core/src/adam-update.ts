import * as tf from '@tensorflow/tfjs';
import { hasFusedKernels } from './gelu.js';

/**
 * Kernel name of the fused Adam update: inputs `{ x, g, m, v }`, attrs {@link AdamUpdateAttrs}, outputs
 * `[x′, m′, v′]`. A backend may register it (tfjs-env does, with the native kernels).
 */
export const ADAM_UPDATE_KERNEL = 'PromptkdAdamUpdate';

/** Hyper-parameters of one Adam step (Kingma & Ba; PyTorch's `torch.optim.Adam` form). */
export interface AdamUpdateAttrs {
  /** α / (1 − β₁ᵗ): the learning rate α with the first moment's bias correction folded in. */
  readonly stepSize: number;
  /** β₁, decay of the first moment m. */
  readonly beta1: number;
  /** β₂, decay of the second moment v. */
  readonly beta2: number;
  /** √(1 − β₂ᵗ), the second moment's bias correction. */
  readonly sqrtC2: number;
  /** ε, added to √v̂. */
  readonly epsilon: number;
}

/**
 * One Adam step on a float32 parameter `x` with gradient `g` and moments `m`, `v`:
 * m′ = β₁m + (1−β₁)g, v′ = β₂v + (1−β₂)g², x′ = x − stepSize · m′ / (√v′ / √c₂ + ε). One fused kernel where the
 * backend registers {@link ADAM_UPDATE_KERNEL} (one pass instead of 14 element-wise kernels), the composition of
 * tfjs ops elsewhere. Returns new tensors; the caller assigns them.
 */
export function adamUpdate(x: tf.Tensor, g: tf.Tensor, m: tf.Tensor, v: tf.Tensor, attrs: AdamUpdateAttrs): [tf.Tensor, tf.Tensor, tf.Tensor] {
  if (x.dtype === 'float32' && g.dtype === 'float32' && hasFusedKernels(ADAM_UPDATE_KERNEL)) {
    return tf.engine().runKernel(ADAM_UPDATE_KERNEL, { x, g, m, v }, attrs as unknown as tf.NamedAttrMap) as unknown as [tf.Tensor, tf.Tensor, tf.Tensor];
  }
  const { stepSize, beta1, beta2, sqrtC2, epsilon } = attrs;
  return tf.tidy(() => {
    const m1 = tf.add(tf.mul(m, beta1), tf.mul(g, 1 - beta1));
    const v1 = tf.add(tf.mul(v, beta2), tf.mul(tf.square(g), 1 - beta2));
    const denom = tf.add(tf.div(tf.sqrt(v1), sqrtC2), epsilon);
    return [tf.sub(x, tf.mul(tf.div(m1, denom), stepSize)), m1, v1] as [tf.Tensor, tf.Tensor, tf.Tensor];
  });
}
