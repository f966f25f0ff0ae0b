import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { QKV_ATTENTION_GRAD_KERNEL, QKV_ATTENTION_KERNEL, hasFusedKernels, qkvAttention } from '@promptkd/core';
import { registerNativeKernels, unregisterNativeKernels } from '@promptkd/tfjs-env';
import { expectMatches, onCpu, rand } from './kernel-helpers.js';
import { nativeBuilt, vals, withNativeKernels, type Vals } from './native-helpers.js';

/** The attention and the gradient of Σ r·out wrt qkv on the current backend (fused on wasm, composed on cpu). */
function valueAndGrad(qkvData: Float32Array, rData: Float32Array, shape: [number, number, number], heads: number): Vals[] {
  return tf.tidy(() => {
    const qkv = tf.tensor3d(qkvData, shape);
    const r = tf.tensor3d(rData, [shape[0], shape[1], shape[2] / 3]);
    const scale = 1 / Math.sqrt(shape[2] / 3 / heads);
    const f = (t: tf.Tensor) => tf.sum(tf.mul(qkvAttention(t as tf.Tensor3D, heads, scale), r));
    return [vals(qkvAttention(qkv, heads, scale)), vals(tf.grad(f)(qkv))];
  });
}

function seeded(shape: number[]): Float32Array {
  const t = rand(shape);
  const v = t.dataSync().slice() as Float32Array;
  t.dispose();
  return v;
}

describe.skipIf(!nativeBuilt)('self-attention from packed qkv (native) matches the composed ops on the cpu backend', () => {
  const addon = withNativeKernels();

  it('registers with the native kernels and goes with them', () => {
    expect(hasFusedKernels(QKV_ATTENTION_KERNEL, QKV_ATTENTION_GRAD_KERNEL)).toBe(true);
    unregisterNativeKernels();
    expect(hasFusedKernels(QKV_ATTENTION_KERNEL)).toBe(false);
    registerNativeKernels(addon());
    expect(hasFusedKernels(QKV_ATTENTION_KERNEL, QKV_ATTENTION_GRAD_KERNEL)).toBe(true);
  });

  // heads of 32 and more run on SGEMM, narrower ones on the per-head loops: the bench's ViT-Tiny (65 tokens, 3 heads
  // of 64), heads of 40 at odd sizes, the KDP CPU study's student (heads of 16), heads of a width without loops of
  // their own, one token
  const cases: Array<[string, number, number, number, number]> = [
    ['ViT-Tiny/4 at 32 px', 4, 65, 192, 3],
    ['heads of 40, odd sizes', 3, 7, 80, 2],
    ['KDP CPU student', 8, 17, 64, 4],
    ['heads of 5, odd sizes', 3, 7, 10, 2],
    ['one token', 2, 1, 8, 2],
  ];
  for (const [label, n, l, d, heads] of cases) {
    it(`${label}: the output and the gradient wrt qkv`, async () => {
      const shape: [number, number, number] = [n, l, 3 * d];
      const [qkv, r] = [seeded(shape), seeded([n, l, d])];
      const before = tf.memory().numTensors;
      const ours = valueAndGrad(qkv as Float32Array, r as Float32Array, shape, heads);
      expect(tf.memory().numTensors, 'tensors left behind').toBe(before);
      const ref = await onCpu(() => valueAndGrad(qkv as Float32Array, r as Float32Array, shape, heads));
      expectMatches(ours[0] as Vals, ref[0] as Vals, `${label}: output`);
      expectMatches(ours[1] as Vals, ref[1] as Vals, `${label}: dqkv`);
    });
  }

  it('gives the same bits on one thread and on two, on SGEMM and on the loops', () => {
    const native = addon();
    const threads = native.getThreads();
    try {
      for (const [n, l, d, heads] of [[8, 65, 192, 3], [64, 17, 64, 4]] as const) {
        const shape: [number, number, number] = [n, l, 3 * d];
        const [qkv, r] = [seeded(shape), seeded([n, l, d])];
        native.setThreads(1);
        const one = valueAndGrad(qkv, r, shape, heads);
        native.setThreads(2);
        const two = valueAndGrad(qkv, r, shape, heads);
        one.forEach((v, i) => expect(Array.from(two[i]!.values), `[${shape}]`).toEqual(Array.from(v.values)));
      }
    } finally {
      native.setThreads(threads);
    }
  });

  it('rejects a last axis that is not 3·D with H dividing D, naming the shape', () => {
    const t = tf.zeros([2, 4, 10]) as tf.Tensor3D;
    expect(() => qkvAttention(t, 2, 1)).toThrow(/got \[2,4,10\]/);
    const u = tf.zeros([2, 4, 12]) as tf.Tensor3D;
    expect(() => qkvAttention(u, 3, 1)).toThrow(/3 heads dividing D/);
    tf.dispose([t, u]);
  });
});
