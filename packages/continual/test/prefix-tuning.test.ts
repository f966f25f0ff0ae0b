import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { checkGradients, expectClose, readFixture } from '@promptkd/testing';
import { multiHeadAttention, type AttentionWeights } from '@promptkd/models';
import { Rng } from '@promptkd/core';
import { blockPrefixes, concatPrefixes, prefixAttentionHeads, splitPrefix, tileToBatch, uniformTensor } from '../src/index.js';

interface Fixture {
  heads: number;
  x: number[][][];
  qkv_weight_out_in: number[][];
  qkv_bias: number[];
  proj_weight_out_in: number[][];
  proj_bias: number[];
  prefix_key: number[][][];
  prefix_value: number[][][];
  out: number[][][];
  upstream: number[][][];
  grad_prefix_key: number[][][];
  grad_prefix_value: number[][][];
}

const fx = readFixture<Fixture>(import.meta.url, 'prefix-attention.json');

function weights(): AttentionWeights {
  return {
    qkvWeight: tf.transpose(tf.tensor2d(fx.qkv_weight_out_in)),
    qkvBias: tf.tensor1d(fx.qkv_bias),
    projWeight: tf.transpose(tf.tensor2d(fx.proj_weight_out_in)),
    projBias: tf.tensor1d(fx.proj_bias),
  };
}

/** Attention written out over the explicitly concatenated keys/values, then the output projection. */
function concatenatedAttention(x: tf.Tensor3D, w: AttentionWeights, heads: number, prefix: Parameters<typeof prefixAttentionHeads>[2]): tf.Tensor3D {
  const [n, t, d] = x.shape;
  const qkv = tf.reshape(tf.add(tf.matMul(tf.reshape(x, [n * t, d]), w.qkvWeight), w.qkvBias as tf.Tensor1D), [n, t, 3 * d]) as tf.Tensor3D;
  const o = prefixAttentionHeads(qkv, heads, prefix);
  return tf.reshape(tf.add(tf.matMul(tf.reshape(o, [n * t, d]), w.projWeight), w.projBias as tf.Tensor1D), [n, t, d]) as tf.Tensor3D;
}

describe('prefix tuning', () => {
  it('matches the PyTorch golden prefix attention (output and prefix gradients)', () => {
    tf.tidy(() => {
      const w = weights();
      const x = tf.tensor3d(fx.x);
      const pk = tf.tensor3d(fx.prefix_key);
      const pv = tf.tensor3d(fx.prefix_value);
      const up = tf.tensor3d(fx.upstream);
      const out = multiHeadAttention(x, w, fx.heads, { prepend: { key: pk, value: pv } });
      expectClose(out.dataSync(), tf.tensor3d(fx.out).dataSync(), { rtol: 1e-4, atol: 1e-5, label: 'out' });
      const mine = concatenatedAttention(x, w, fx.heads, { prepend: { key: pk, value: pv } });
      expectClose(mine.dataSync(), tf.tensor3d(fx.out).dataSync(), { rtol: 1e-4, atol: 1e-5, label: 'concatenated' });
      const [gk, gv] = tf.grads((k: tf.Tensor, v: tf.Tensor) =>
        tf.sum(tf.mul(multiHeadAttention(x, w, fx.heads, { prepend: { key: k as tf.Tensor3D, value: v as tf.Tensor3D } }), up)),
      )([pk, pv]);
      expectClose((gk as tf.Tensor).dataSync(), tf.tensor3d(fx.grad_prefix_key).dataSync(), { rtol: 1e-3, atol: 1e-5, label: 'grad key' });
      expectClose((gv as tf.Tensor).dataSync(), tf.tensor3d(fx.grad_prefix_value).dataSync(), { rtol: 1e-3, atol: 1e-5, label: 'grad value' });
    });
  });

  it('equals attention over the concatenated keys/values for prepended and appended prefixes', () => {
    tf.tidy(() => {
      const rng = Rng.fromSeed(3);
      const w = weights();
      const x = uniformTensor([2, 5, 8], rng, -1, 1) as tf.Tensor3D;
      const pre = { key: uniformTensor([2, 2, 8], rng, -1, 1) as tf.Tensor3D, value: uniformTensor([2, 2, 8], rng, -1, 1) as tf.Tensor3D };
      const app = { key: uniformTensor([2, 3, 8], rng, -1, 1) as tf.Tensor3D, value: uniformTensor([2, 3, 8], rng, -1, 1) as tf.Tensor3D };
      const a = multiHeadAttention(x, w, 2, { prepend: pre, append: app });
      const b = concatenatedAttention(x, w, 2, { prepend: pre, append: app });
      expect(a.shape).toEqual([2, 5, 8]); // sequence length unchanged by prefixes
      expectClose(a.dataSync(), b.dataSync(), { rtol: 1e-4, atol: 1e-5 });
      // order of prefix tokens is irrelevant: all prefixes prepended == prepend + append
      const allPre = multiHeadAttention(x, w, 2, { prepend: concatPrefixes(pre, app) });
      expectClose(allPre.dataSync(), a.dataSync(), { rtol: 1e-4, atol: 1e-5 });
      // zero-length prefix == vanilla attention
      const empty = { key: tf.zeros([2, 0, 8]) as tf.Tensor3D, value: tf.zeros([2, 0, 8]) as tf.Tensor3D };
      const vanilla = multiHeadAttention(x, w, 2);
      expectClose(concatenatedAttention(x, w, 2, { prepend: empty }).dataSync(), vanilla.dataSync(), { rtol: 1e-4, atol: 1e-6 });
    });
  });

  it('splits prompts into L/2 keys and L/2 values and builds block prefix lists', () => {
    tf.tidy(() => {
      const p = tf.tensor3d([[[1], [2], [3], [4]]]);
      const { key, value } = splitPrefix(p);
      expect(Array.from(key.dataSync())).toEqual([1, 2]);
      expect(Array.from(value.dataSync())).toEqual([3, 4]);
      expect(() => splitPrefix(tf.zeros([1, 3, 1]) as tf.Tensor3D)).toThrow(/even length/);
      const tiled = tileToBatch(tf.tensor2d([[1, 2]]), 3);
      expect(tiled.shape).toEqual([3, 1, 2]);
      const list = blockPrefixes(3, [undefined, { key, value }], [undefined, undefined, { key, value }]);
      expect(list[0]).toBeUndefined();
      expect(list[1]?.prepend).toBeDefined();
      expect(list[2]?.append).toBeDefined();
      expect(list[2]?.prepend).toBeUndefined();
    });
  });

  it('prefix gradients agree with finite differences', () => {
    const w = weights();
    const x = tf.tensor3d(fx.x);
    const up = tf.tensor3d(fx.upstream);
    const pk = tf.tensor3d(fx.prefix_key);
    const pv = tf.tensor3d(fx.prefix_value);
    checkGradients(
      (k, v) => tf.sum(tf.mul(multiHeadAttention(x, w, fx.heads, { append: { key: k as tf.Tensor3D, value: v as tf.Tensor3D } }), up)),
      [pk, pv],
      { maxCoordinates: 12 },
    );
    tf.dispose([x, up, pk, pv, ...Object.values(w)]);
  });
});
