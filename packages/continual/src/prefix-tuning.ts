import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '@promptkd/core';
import type { BlockPrefix, PrefixKV } from './types.js';

/**
 * Prefix tuning (spec §3.1): a prompt `P ∈ R^{N×L×D}` becomes prefix keys `P_K` = its first L/2 rows
 * and prefix values `P_V` = its last L/2 rows. They are in the projected key/value space already.
 *
 * @param prompt `[N, L, D]` with even L.
 */
export function splitPrefix(prompt: tf.Tensor3D): PrefixKV {
  const [n, l, d] = prompt.shape;
  if (l % 2 !== 0) {
    throw new ShapeError(`A prefix prompt needs an even length L (L/2 keys + L/2 values); got L=${l}.`, {
      shape: prompt.shape,
    });
  }
  const h = l / 2;
  return {
    key: tf.slice(prompt, [0, 0, 0], [n, h, d]),
    value: tf.slice(prompt, [0, h, 0], [n, h, d]),
  };
}

/** Concatenates prefixes along the token axis (`a` first). Undefined operands are skipped. */
export function concatPrefixes(...parts: ReadonlyArray<PrefixKV | undefined>): PrefixKV | undefined {
  const present = parts.filter((p): p is PrefixKV => p !== undefined);
  if (present.length === 0) return undefined;
  if (present.length === 1) return present[0];
  return {
    key: tf.concat(present.map((p) => p.key), 1),
    value: tf.concat(present.map((p) => p.value), 1),
  };
}

/**
 * Broadcasts a shared prompt `[L, D]` to a batch: `[N, L, D]` (tile; the gradient sums over N).
 */
export function tileToBatch(prompt: tf.Tensor2D, n: number): tf.Tensor3D {
  const [l, d] = prompt.shape;
  return tf.tile(tf.reshape(prompt, [1, l, d]), [n, 1, 1]);
}

/**
 * Builds the per-block prefix list of a forward pass from CL prefixes (prepended) and extra
 * prefixes (appended, KDP's KD prompts).
 */
export function blockPrefixes(
  depth: number,
  prepend: ReadonlyArray<PrefixKV | undefined> = [],
  append: ReadonlyArray<PrefixKV | undefined> = [],
): Array<BlockPrefix | undefined> {
  const out: Array<BlockPrefix | undefined> = [];
  for (let b = 0; b < depth; b++) {
    const p = prepend[b];
    const a = append[b];
    out.push(p || a ? { ...(p ? { prepend: p } : {}), ...(a ? { append: a } : {}) } : undefined);
  }
  if (prepend.length > depth || append.length > depth) {
    throw new ShapeError(`Prefixes were given for ${Math.max(prepend.length, append.length)} blocks but the ViT has ${depth}.`);
  }
  return out;
}

/**
 * Reference multi-head attention with prefix keys/values, written out for tests and documentation:
 * `softmax(Q·[P_K; K; A_K]ᵀ/√d_h)·[P_V; V; A_V]` per head. `qkv` is `[N, T, 3D]` (q|k|v as timm packs
 * them). Returns the concatenated heads `[N, T, D]` (before the output projection).
 */
export function prefixAttentionHeads(
  qkv: tf.Tensor3D,
  numHeads: number,
  prefix: BlockPrefix | undefined,
): tf.Tensor3D {
  return tf.tidy(() => {
    const [n, t, d3] = qkv.shape;
    const d = d3 / 3;
    const hd = d / numHeads;
    const q = tf.slice(qkv, [0, 0, 0], [n, t, d]);
    let k: tf.Tensor3D = tf.slice(qkv, [0, 0, d], [n, t, d]);
    let v: tf.Tensor3D = tf.slice(qkv, [0, 0, 2 * d], [n, t, d]);
    if (prefix?.prepend) {
      k = tf.concat([prefix.prepend.key, k], 1);
      v = tf.concat([prefix.prepend.value, v], 1);
    }
    if (prefix?.append) {
      k = tf.concat([k, prefix.append.key], 1);
      v = tf.concat([v, prefix.append.value], 1);
    }
    const s = k.shape[1];
    const heads = (x: tf.Tensor3D, len: number): tf.Tensor3D =>
      tf.reshape(tf.transpose(tf.reshape(x, [n, len, numHeads, hd]), [0, 2, 1, 3]), [n * numHeads, len, hd]);
    const qh = heads(q, t);
    const kh = heads(k, s);
    const vh = heads(v, s);
    const scores = tf.mul(tf.matMul(qh, tf.transpose(kh, [0, 2, 1])), 1 / Math.sqrt(hd));
    const out = tf.matMul(tf.softmax(scores), vh);
    return tf.reshape(tf.transpose(tf.reshape(out, [n, numHeads, t, hd]), [0, 2, 1, 3]), [n, t, d]);
  });
}
