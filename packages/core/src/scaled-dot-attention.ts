import * as tf from '@tensorflow/tfjs';
import { ShapeError } from './errors.js';
import { hasFusedKernels } from './gelu.js';
import { gradientFromKernel, registerGradientOnce } from './register-gradient-once.js';

/**
 * Kernel name of fused multi-head scaled dot-product attention: inputs `{ q, k, v }` (`[N, Lq, D]`, `[N, Lk, D]`,
 * `[N, Lk, D]`; head h is the column block `[h·d, (h+1)·d)`, d = D/H), attrs `heads`, `scale`; outputs `[o, p]`:
 * `o` `[N, Lq, D]` (each head's `p·v` in its column block) and the attention `p = softmax((scale·q)·kᵀ)`
 * `[N, H, Lq, Lk]`, kept for the gradient.
 */
export const ATTENTION_KERNEL = 'PromptkdAttention';
/** Kernel name of its gradient: inputs `{ dy, q, k, v, p }`, attrs `heads`, `scale`, outputs `[dq, dk, dv]`. */
export const ATTENTION_GRAD_KERNEL = 'PromptkdAttentionGrad';

const GRADIENT: tf.GradConfig = {
  kernelName: ATTENTION_KERNEL,
  inputsToSave: ['q', 'k', 'v'],
  outputsToSave: [false, true],
  // only o carries a gradient (p is returned for the backward pass)
  gradFunc: gradientFromKernel(ATTENTION_GRAD_KERNEL, ['q', 'k', 'v', 'p'], ['q', 'k', 'v']),
};

/** `[N, L, D]` → `[N·H, L, D/H]`, one head per batch entry. */
function splitHeads(t: tf.Tensor3D, heads: number): tf.Tensor3D {
  const [n, l, d] = t.shape;
  return tf.reshape(tf.transpose(tf.reshape(t, [n, l, heads, d / heads]), [0, 2, 1, 3]), [n * heads, l, d / heads]);
}

/**
 * Multi-head scaled dot-product attention: per head h, `softmax((s·Q_h)·K_hᵀ)·V_h` (Vaswani et al. 2017, eq. 1,
 * with `s = 1/√d_k`), the heads being column blocks of width D/H of `[N, L, D]` tensors, and the result in the same
 * layout (heads concatenated, before the output projection). One fused kernel forward and one backward where the
 * backend registers {@link ATTENTION_KERNEL} and {@link ATTENTION_GRAD_KERNEL} (promptkd's native kernels on wasm):
 * the heads are read and written in place, so there is no transpose to and from `[N·H, L, d]`; elsewhere the
 * composition (head split, `mul`, `matMul` with `kᵀ` as a flag, `softmax`, `matMul`, head merge), which is also
 * what a dtype other than float32 gets.
 *
 * @param q — Q, `[N, Lq, D]`.
 * @param k — K, `[N, Lk, D]` (prefix keys already concatenated along Lk).
 * @param v — V, `[N, Lk, D]`.
 * @param heads — H; must divide D.
 * @param scale — s, the factor on Q (usually `(D/H)^-½`).
 * @returns `[N, Lq, D]`.
 */
export function scaledDotAttention(q: tf.Tensor3D, k: tf.Tensor3D, v: tf.Tensor3D, heads: number, scale: number): tf.Tensor3D {
  const [n, lq, d] = q.shape;
  if (
    q.rank !== 3 || k.rank !== 3 || v.rank !== 3 || k.shape[0] !== n || v.shape[0] !== n || k.shape[2] !== d || v.shape[2] !== d ||
    k.shape[1] !== v.shape[1] || !Number.isInteger(heads) || heads < 1 || d % heads !== 0
  ) {
    throw new ShapeError(
      `scaledDotAttention: q [N, Lq, D], k and v [N, Lk, D] with ${heads} heads dividing D expected; got q [${q.shape}], k [${k.shape}], v [${v.shape}].`,
      { q: q.shape, k: k.shape, v: v.shape, heads },
    );
  }
  const fused = [q, k, v].every((t) => t.dtype === 'float32') && q.size > 0 && k.size > 0;
  if (fused && hasFusedKernels(ATTENTION_KERNEL, ATTENTION_GRAD_KERNEL)) {
    registerGradientOnce(GRADIENT);
    const [o, p] = tf.engine().runKernel(ATTENTION_KERNEL, { q, k, v }, { heads, scale }) as tf.Tensor[];
    // p stays alive as long as the tape needs it (the engine keeps saved outputs); the caller sees only o
    (p as tf.Tensor).dispose();
    return o as tf.Tensor3D;
  }
  return tf.tidy(() => {
    const o = tf.matMul(tf.softmax(tf.matMul(tf.mul(splitHeads(q, heads), scale), splitHeads(k, heads), false, true)), splitHeads(v, heads));
    return tf.reshape(tf.transpose(tf.reshape(o, [n, heads, lq, d / heads]), [0, 2, 1, 3]), [n, lq, d]);
  });
}
