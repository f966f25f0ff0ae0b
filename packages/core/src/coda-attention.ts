import * as tf from '@tensorflow/tfjs';
import { ShapeError } from './errors.js';
import { hasFusedKernels } from './gelu.js';
import { gradientFromKernel, registerGradientOnce } from './register-gradient-once.js';

/**
 * Kernel name of CODA-Prompt's prompt from a query: inputs `q` `[N, Dq]`, `k` and `a` `[M, Dq]`, `p` `[M, E]`;
 * output `[N, E]` (see {@link codaAttention}).
 */
export const CODA_ATTENTION_KERNEL = 'PromptkdCodaAttention';
/** Kernel name of its gradient: inputs `{ dy, q, k, a, p }`, outputs `[dq, dk, da, dp]`. */
export const CODA_ATTENTION_GRAD_KERNEL = 'PromptkdCodaAttentionGrad';

const EPS = 1e-12;

const GRADIENT: tf.GradConfig = {
  kernelName: CODA_ATTENTION_KERNEL,
  inputsToSave: ['q', 'k', 'a', 'p'],
  gradFunc: gradientFromKernel(CODA_ATTENTION_GRAD_KERNEL, ['q', 'k', 'a', 'p'], ['q', 'k', 'a', 'p']),
};

/** Row-wise `x / max(‖x‖, ε)` (PyTorch `F.normalize`). */
function normalizeRows(x: tf.Tensor2D): tf.Tensor2D {
  return tf.div(x, tf.maximum(tf.sqrt(tf.sum(tf.square(x), 1, true)), EPS));
}

/**
 * CODA-Prompt's prompt from a query (Smith et al. 2023, eq. 4–5, as the reference code computes it):
 * `α_{n,m} = ⟨q_n ⊙ A_m, K̂_m⟩ / max(‖q_n ⊙ A_m‖, ε)` with `K̂_m = K_m / max(‖K_m‖, ε)`, ε = 1e-12, and the prompt
 * `Σ_m α_{n,m} P_m`. One fused kernel forward and one backward where the backend registers
 * {@link CODA_ATTENTION_KERNEL} and {@link CODA_ATTENTION_GRAD_KERNEL} (promptkd's native kernels on wasm); elsewhere
 * the composition (the same values to rounding), which is also what a dtype other than float32 gets.
 *
 * @param q — the queries q(x), `[N, Dq]`.
 * @param k — the components' keys K, `[M, Dq]`.
 * @param a — the components' attention vectors A, `[M, Dq]`.
 * @param p — the components' prompts P, flattened: `[M, E]`.
 * @returns the prompts `[N, E]`.
 */
export function codaAttention(q: tf.Tensor2D, k: tf.Tensor2D, a: tf.Tensor2D, p: tf.Tensor2D): tf.Tensor2D {
  const [, dq] = q.shape;
  const m = k.shape[0];
  if (q.rank !== 2 || k.rank !== 2 || a.rank !== 2 || p.rank !== 2 || k.shape[1] !== dq || a.shape[0] !== m || a.shape[1] !== dq || p.shape[0] !== m) {
    throw new ShapeError(
      `codaAttention: q [N, Dq], k and a [M, Dq], p [M, E] expected; got q [${q.shape}], k [${k.shape}], a [${a.shape}], p [${p.shape}].`,
      { q: q.shape, k: k.shape, a: a.shape, p: p.shape },
    );
  }
  const fused = [q, k, a, p].every((t) => t.dtype === 'float32') && m > 0 && dq > 0 && p.shape[1] > 0;
  if (fused && hasFusedKernels(CODA_ATTENTION_KERNEL, CODA_ATTENTION_GRAD_KERNEL)) {
    registerGradientOnce(GRADIENT);
    return tf.engine().runKernel(CODA_ATTENTION_KERNEL, { q, k, a, p }) as tf.Tensor2D;
  }
  return tf.tidy(() => {
    const num = tf.matMul(q, tf.mul(a, normalizeRows(k)), false, true);
    const den = tf.maximum(tf.sqrt(tf.matMul(tf.square(q), tf.square(a), false, true)), EPS);
    return tf.matMul(tf.div(num, den), p);
  });
}
