import * as tf from '@tensorflow/tfjs';
import { l2Normalize } from '@promptkd/core';

/** Row-wise L2 normalisation `x / max(‖x‖, eps)` (PyTorch `F.normalize`, eps 1e-12); `l2Normalize` of `@promptkd/core`. */
export { l2Normalize };

/** Cosine similarity matrix `cos(q_n, K_m)`: `[N, D] × [M, D] → [N, M]`. */
export function cosineMatrix(q: tf.Tensor2D, keys: tf.Tensor2D): tf.Tensor2D {
  return tf.matMul(l2Normalize(q), tf.transpose(l2Normalize(keys)));
}

/**
 * One-hot rows `[N·k, M]` for integer indices (host array), used to select pool entries with a matmul
 * instead of a differentiable `tf.gather`.
 */
export function oneHotRows(indices: readonly number[], depth: number): tf.Tensor2D {
  const data = new Float32Array(indices.length * depth);
  indices.forEach((ix, r) => {
    data[r * depth + ix] = 1;
  });
  return tf.tensor2d(data, [indices.length, depth]);
}

/** Top-k column indices per row of a host matrix (descending; ties → lower index first, like torch.topk on CPU). */
export function topKRows(values: Float32Array | number[], rows: number, cols: number, k: number): number[][] {
  const out: number[][] = [];
  for (let r = 0; r < rows; r++) {
    const idx = Array.from({ length: cols }, (_, c) => c);
    idx.sort((a, b) => (values[r * cols + b] as number) - (values[r * cols + a] as number) || a - b);
    out.push(idx.slice(0, k));
  }
  return out;
}
