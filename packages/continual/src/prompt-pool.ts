import * as tf from '@tensorflow/tfjs';
import { stopGradient } from './stop-gradient.js';
import { cosineMatrix } from './similarity.js';
import type { PrefixKV } from './types.js';

/** Result of key–query matching on one pool (shared by L2P and DualPrompt). */
export interface PoolPick {
  /** Prefix of the picked prompts, concatenated in pick order: `[N, k·L/2, D]` keys and values. */
  readonly prefix: PrefixKV;
  /** Σ over picks of (1 − cos(q, K_pick)), averaged over the batch. */
  readonly keyLoss: tf.Scalar;
  /** Picked indices `[N, k]` (int32). */
  readonly indices: tf.Tensor2D;
}

/**
 * Selects prompts from a pool by cosine key matching or by fixed indices and turns them into a prefix.
 *
 * @param query `[N, D_q]` — q(x); detached here (only keys learn from the matching loss).
 * @param keys `[M, D_q]` — K.
 * @param pool `[M, L, D]` — the prompts P.
 * @param pick `{ topK }` picks the k most similar keys per sample; `{ index }` picks pool entry
 *   `index` for every sample (DualPrompt's task-id selection during training).
 */
export function pickFromPool(
  query: tf.Tensor2D,
  keys: tf.Tensor2D,
  pool: tf.Tensor3D,
  pick: { readonly topK: number } | { readonly index: number },
): PoolPick {
  const n = query.shape[0];
  const [m, l, d] = pool.shape;
  const cos = cosineMatrix(stopGradient(query), keys); // [N, M]
  let indices: tf.Tensor2D;
  if ('topK' in pick) {
    indices = topKIndices(cos, pick.topK);
  } else {
    indices = tf.fill([n, 1], pick.index, 'int32') as tf.Tensor2D;
  }
  const k = indices.shape[1];
  const oneHot = stopGradient(tf.oneHot(tf.reshape(indices, [n * k]), m).toFloat() as tf.Tensor2D); // [N·k, M]
  const picked = tf.reshape(tf.matMul(oneHot, tf.reshape(pool, [m, l * d])), [n, k, l, d]);
  const h = l / 2;
  const key = tf.reshape(tf.slice(picked, [0, 0, 0, 0], [n, k, h, d]), [n, k * h, d]) as tf.Tensor3D;
  const value = tf.reshape(tf.slice(picked, [0, 0, h, 0], [n, k, h, d]), [n, k * h, d]) as tf.Tensor3D;
  const mask = tf.sum(tf.reshape(oneHot, [n, k, m]), 1); // [N, M]
  const keyLoss = tf.div(tf.sum(tf.mul(mask, tf.sub(1, cos))), n) as tf.Scalar;
  return { prefix: { key, value }, keyLoss, indices };
}

/**
 * Top-k column indices per row, cut off from the gradient tape (TensorFlow.js has no TopK gradient;
 * selection is not differentiable anyway).
 */
const topKNoGrad = (k: number) =>
  tf.customGrad(((x: tf.Tensor) => ({
    value: tf.topk(x, k).indices,
    gradFunc: () => tf.zerosLike(x),
  })) as unknown as Parameters<typeof tf.customGrad>[0]);

function topKIndices(cos: tf.Tensor2D, k: number): tf.Tensor2D {
  return topKNoGrad(k)(cos) as tf.Tensor2D;
}
