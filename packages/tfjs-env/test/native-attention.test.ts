import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ATTENTION_GRAD_KERNEL, ATTENTION_KERNEL, hasFusedKernels, scaledDotAttention } from '@promptkd/core';
import { registerNativeKernels, unregisterNativeKernels } from '@promptkd/tfjs-env';
import { expectMatches, onCpu, rand } from './kernel-helpers.js';
import { nativeBuilt, vals, withNativeKernels, type Vals } from './native-helpers.js';

/** o = attention(q, k, v) and the gradients of Σ w·o wrt q, k, v on the current backend (fused on wasm, composed on cpu). */
function valueAndGrads(data: Float32Array[], shapes: number[][], heads: number, scale: number): Vals[] {
  return tf.tidy(() => {
    const [q, k, v, w] = data.map((d, i) => tf.tensor(d, shapes[i] as number[]) as tf.Tensor) as tf.Tensor3D[];
    const f = (qq: tf.Tensor, kk: tf.Tensor, vv: tf.Tensor): tf.Scalar =>
      tf.sum(tf.mul(scaledDotAttention(qq as tf.Tensor3D, kk as tf.Tensor3D, vv as tf.Tensor3D, heads, scale), w as tf.Tensor));
    const o = scaledDotAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, heads, scale);
    return [vals(o), ...tf.grads(f)([q as tf.Tensor, k as tf.Tensor, v as tf.Tensor]).map(vals)];
  });
}

function inputs(n: number, lq: number, lk: number, d: number, spread = 1): { data: Float32Array[]; shapes: number[][] } {
  const shapes = [[n, lq, d], [n, lk, d], [n, lk, d], [n, lq, d]];
  const ts = shapes.map((s, i) => (i < 2 ? tf.mul(rand(s), spread) : rand(s)));
  const data = ts.map((t) => t.dataSync().slice() as Float32Array);
  tf.dispose(ts);
  return { data, shapes };
}

describe.skipIf(!nativeBuilt)('fused scaled dot-product attention (native) matches the composed ops on the cpu backend', () => {
  const addon = withNativeKernels();

  it('registers with the native kernels and goes with them', () => {
    expect(hasFusedKernels(ATTENTION_KERNEL, ATTENTION_GRAD_KERNEL)).toBe(true);
    unregisterNativeKernels();
    expect(hasFusedKernels(ATTENTION_KERNEL)).toBe(false);
    registerNativeKernels(addon());
    expect(hasFusedKernels(ATTENTION_KERNEL, ATTENTION_GRAD_KERNEL)).toBe(true);
  });

  // [N, Lq, Lk, D, H, spread]: a ViT's heads (17 tokens, prefix keys: Lk > Lq), odd sizes, one query, one head (D = d),
  // calls large enough for the threads; head widths d = 16, 32 and 64 (own loops) and others (generic loops)
  const cases: Array<[number, number, number, number, number, number]> = [
    [2, 3, 3, 8, 2, 1],
    [6, 17, 25, 32, 2, 1],
    [5, 7, 1, 15, 3, 1],
    [3, 1, 9, 8, 1, 1],
    [4, 17, 17, 64, 4, 6], // peaked attention: large scores, the softmax's max-shift matters
    [16, 65, 65, 128, 4, 1], // 8.7 M multiply-adds: over the threads
    [8, 65, 67, 192, 3, 1], // heads of 64 (the bench's ViT-tiny): the specialised loops of d = 64
  ];
  for (const [n, lq, lk, d, h, spread] of cases) {
    it(`o and the gradients wrt q, k, v: N ${n}, Lq ${lq}, Lk ${lk}, D ${d}, ${h} heads${spread > 1 ? ', peaked' : ''}`, async () => {
      const { data, shapes } = inputs(n, lq, lk, d, spread);
      const scale = (d / h) ** -0.5;
      const before = tf.memory().numTensors;
      const ours = valueAndGrads(data, shapes, h, scale);
      expect(tf.memory().numTensors, 'tensors left behind').toBe(before);
      const ref = await onCpu(() => valueAndGrads(data, shapes, h, scale));
      ['o', 'dq', 'dk', 'dv'].forEach((what, i) => expectMatches(ours[i] as Vals, ref[i] as Vals, `${what} [${n}, ${lq}, ${lk}, ${d}] ${h} heads`));
    });
  }

  it('is bit-identical on 1 and 2 threads (each head is one work item)', () => {
    const { data, shapes } = inputs(16, 65, 65, 128);
    const run = (threads: number) => {
      addon().setThreads(threads);
      return valueAndGrads(data, shapes, 4, 0.25).map((v) => Buffer.from(v.values.buffer));
    };
    const one = run(1);
    const two = run(2);
    addon().setThreads(2);
    two.forEach((t, i) => expect(t.equals(one[i] as Buffer), `output ${i}`).toBe(true));
  });

  it('rejects mismatched shapes with a ShapeError naming them', () => {
    const [q, k, v] = [tf.zeros([2, 3, 4]), tf.zeros([2, 5, 4]), tf.zeros([2, 6, 4])] as tf.Tensor3D[];
    expect(() => scaledDotAttention(q as tf.Tensor3D, k as tf.Tensor3D, v as tf.Tensor3D, 2, 1)).toThrow(/k and v \[N, Lk, D\] with 2 heads dividing D expected; got q \[2,3,4\], k \[2,5,4\], v \[2,6,4\]/);
    expect(() => scaledDotAttention(q as tf.Tensor3D, q as tf.Tensor3D, q as tf.Tensor3D, 3, 1)).toThrow(/3 heads dividing D/);
    tf.dispose([q, k, v]);
  });
});
