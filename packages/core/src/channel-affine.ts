import * as tf from '@tensorflow/tfjs';
import { ShapeError } from './errors.js';
import { hasFusedKernels } from './gelu.js';
import { registerGradientOnce } from './register-gradient-once.js';

/** Kernel name of the fused per-channel affine map: inputs `{ x, scale, shift }`, attr `relu`, output y. */
export const CHANNEL_AFFINE_KERNEL = 'PromptkdChannelAffine';
/** Kernel name of its input gradient: inputs `{ dy, y, scale }`, attr `relu`, output `dy·scale` (·step(y) with ReLU). */
export const CHANNEL_AFFINE_GRAD_KERNEL = 'PromptkdChannelAffineGrad';

/** The axes a [C] or [N, C] scale is broadcast over: every axis but the last, or every one but the first and last. */
const reducedAxes = (rank: number, perRow: boolean): number[] => Array.from({ length: rank - 1 }, (_, i) => i).slice(perRow ? 1 : 0);

/** `x·s + b` with s, b reshaped to broadcast against x (`[N, 1, …, 1, C]` when given per row). */
function composition(x: tf.Tensor, scale: tf.Tensor, shift: tf.Tensor, relu: boolean): tf.Tensor {
  const perRow = scale.rank === 2;
  const shape = perRow ? [x.shape[0] as number, ...new Array<number>(x.rank - 2).fill(1), x.shape[x.rank - 1] as number] : scale.shape;
  const y = tf.add(tf.mul(x, tf.reshape(scale, shape)), tf.reshape(shift, shape));
  return relu ? tf.relu(y) : y;
}

const GRADIENT: tf.GradConfig = {
  kernelName: CHANNEL_AFFINE_KERNEL,
  inputsToSave: ['x', 'scale'],
  outputsToSave: [true],
  gradFunc: (dy, saved, attrs) => {
    const [x, scale, y] = saved as [tf.Tensor, tf.Tensor, tf.Tensor];
    const relu = Boolean((attrs as { relu?: boolean }).relu);
    const d = dy as tf.Tensor;
    // the parameter gradients (frozen hosts never ask for them) from the composition
    const dz = (): tf.Tensor => (relu ? tf.mul(d, tf.step(y)) : d);
    const axes = reducedAxes(x.rank, scale.rank === 2);
    return {
      x: () => tf.engine().runKernel(CHANNEL_AFFINE_GRAD_KERNEL, { dy: d, y, scale }, { relu }) as tf.Tensor,
      scale: () => tf.sum(tf.mul(dz(), x), axes),
      shift: () => tf.sum(dz(), axes),
    };
  },
};

/**
 * `y = x·scale + shift` over the last axis of `x`, then ReLU when `relu`: eval-mode batch norm with
 * `scale = γ/√(σ² + ε)` and `shift = β − μ·scale` (μ, σ² the running statistics, or each image's own), in one fused
 * kernel forward and one backward where the backend registers {@link CHANNEL_AFFINE_KERNEL} and
 * {@link CHANNEL_AFFINE_GRAD_KERNEL}; the composition of tfjs ops (multiply, add, ReLU) elsewhere.
 *
 * @param x — input `[N, …, C]` (NHWC activations), rank ≥ 2.
 * @param scale — per-channel factor, `[C]`, or `[N, C]` for one per image.
 * @param shift — per-channel offset, the same shape as `scale`.
 * @param options — `relu`: apply ReLU to the result (default false).
 */
export function channelAffine<T extends tf.Tensor>(x: T, scale: tf.Tensor, shift: tf.Tensor, options: { relu?: boolean } = {}): T {
  const relu = options.relu ?? false;
  const c = x.shape[x.rank - 1] as number;
  const n = x.shape[0] as number;
  const fits = (t: tf.Tensor) => (t.rank === 1 && t.size === c) || (t.rank === 2 && t.shape[0] === n && t.shape[1] === c);
  if (x.rank < 2 || !fits(scale) || !fits(shift) || scale.rank !== shift.rank) {
    throw new ShapeError(
      `channelAffine: scale and shift must both be [${c}] or both [${n}, ${c}] for x of shape [${x.shape}], got [${scale.shape}] and [${shift.shape}].`,
      { expected: [c], actual: scale.shape },
    );
  }
  if (x.dtype === 'float32' && hasFusedKernels(CHANNEL_AFFINE_KERNEL, CHANNEL_AFFINE_GRAD_KERNEL)) {
    registerGradientOnce(GRADIENT);
    return tf.engine().runKernel(CHANNEL_AFFINE_KERNEL, { x, scale, shift }, { relu }) as T;
  }
  return tf.tidy(() => composition(x, scale, shift, relu)) as T;
}
