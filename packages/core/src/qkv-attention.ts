import * as tf from '@tensorflow/tfjs';
import { ShapeError } from './errors.js';
import { hasFusedKernels } from './gelu.js';
import { gradientFromKernel, registerGradientOnce } from './register-gradient-once.js';
import { scaledDotAttention } from './scaled-dot-attention.js';

/**
 * Kernel name of multi-head self-attention from a packed qkv tensor: input `{ qkv }` `[N, L, 3D]` (columns
 * `[q | k | v]`, head h the column block `[h·d, (h+1)·d)` of each, d = D/H), attrs `heads`, `scale`; outputs
 * `[o, p]`: `o` `[N, L, D]` and the attention `p` `[N, H, L, L]`, kept for the gradient.
 */
export const QKV_ATTENTION_KERNEL = 'PromptkdQkvAttention';
/** Kernel name of its gradient: inputs `{ dy, qkv, p }`, attrs `heads`, `scale`, output `[dqkv]` `[N, L, 3D]`. */
export const QKV_ATTENTION_GRAD_KERNEL = 'PromptkdQkvAttentionGrad';

const GRADIENT: tf.GradConfig = {
  kernelName: QKV_ATTENTION_KERNEL,
  inputsToSave: ['qkv'],
  outputsToSave: [false, true],
  gradFunc: gradientFromKernel(QKV_ATTENTION_GRAD_KERNEL, ['qkv', 'p'], ['qkv']),
};

/**
 * Multi-head self-attention of a ViT block from its packed qkv projection (timm's `Attention`: the qkv linear layer's
 * output read as `[3, H, d]` per token), `softmax((s·Q_h)·K_hᵀ)·V_h` per head (Vaswani et al. 2017, eq. 1, with
 * `s = 1/√d_k`), heads concatenated before the output projection. One kernel forward and one backward where the
 * backend registers {@link QKV_ATTENTION_KERNEL} and {@link QKV_ATTENTION_GRAD_KERNEL} (promptkd's native kernels on
 * wasm): each head is read from and its gradient written into qkv where it lies, so neither the split of qkv nor the
 * head transposes nor the concat of dq, dk, dv run; elsewhere {@link scaledDotAttention} on the three column blocks
 * (the same values to rounding).
 *
 * @param qkv — `[Q | K | V]` of the block's tokens, `[N, L, 3D]`.
 * @param heads — H; must divide D.
 * @param scale — s, the factor on Q (usually `(D/H)^-½`).
 * @returns `[N, L, D]`.
 */
export function qkvAttention(qkv: tf.Tensor3D, heads: number, scale: number): tf.Tensor3D {
  const d3 = qkv.shape[2];
  if (qkv.rank !== 3 || d3 % 3 !== 0 || !Number.isInteger(heads) || heads < 1 || (d3 / 3) % heads !== 0) {
    throw new ShapeError(`qkvAttention: qkv [N, L, 3D] with ${heads} heads dividing D expected; got [${qkv.shape}].`, { qkv: qkv.shape, heads });
  }
  if (qkv.dtype === 'float32' && qkv.size > 0 && hasFusedKernels(QKV_ATTENTION_KERNEL, QKV_ATTENTION_GRAD_KERNEL)) {
    registerGradientOnce(GRADIENT);
    const [o, p] = tf.engine().runKernel(QKV_ATTENTION_KERNEL, { qkv }, { heads, scale }) as tf.Tensor[];
    // p stays alive as long as the tape needs it (the engine keeps saved outputs); the caller sees only o
    (p as tf.Tensor).dispose();
    return o as tf.Tensor3D;
  }
  return tf.tidy(() => {
    const [q, k, v] = tf.split(qkv, 3, 2) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
    return scaledDotAttention(q, k, v, heads, scale);
  });
}
