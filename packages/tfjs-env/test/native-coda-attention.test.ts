import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { CODA_ATTENTION_GRAD_KERNEL, CODA_ATTENTION_KERNEL, codaAttention, hasFusedKernels } from '@promptkd/core';
import { registerNativeKernels, unregisterNativeKernels } from '@promptkd/tfjs-env';
import { expectMatches, onCpu, rand } from './kernel-helpers.js';
import { nativeBuilt, vals, withNativeKernels, type Vals } from './native-helpers.js';

/** The prompts and the gradients of Σ r·out wrt q, k, a, p on the current backend (fused on wasm, composed on cpu). */
function valueAndGrads(data: Float32Array[], shapes: number[][]): Vals[] {
  return tf.tidy(() => {
    const [q, k, a, p, r] = data.map((d, i) => tf.tensor2d(d, shapes[i] as [number, number]));
    const f = (...t: tf.Tensor[]) => tf.sum(tf.mul(codaAttention(...(t as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D, tf.Tensor2D])), r as tf.Tensor));
    const inputs = [q, k, a, p] as tf.Tensor[];
    return [vals(codaAttention(q as tf.Tensor2D, k as tf.Tensor2D, a as tf.Tensor2D, p as tf.Tensor2D)), ...tf.grads(f)(inputs).map(vals)];
  });
}

/** Seeded inputs [q, k, a, p, r] for N queries, M components of width Dq and prompts of E values. */
function inputs(n: number, m: number, dq: number, e: number): { data: Float32Array[]; shapes: number[][] } {
  const shapes = [[n, dq], [m, dq], [m, dq], [m, e], [n, e]];
  const data = shapes.map((s) => {
    const t = rand(s);
    const v = t.dataSync().slice() as Float32Array;
    t.dispose();
    return v;
  });
  return { data, shapes };
}

describe.skipIf(!nativeBuilt)('fused CODA-Prompt attention (native) matches the composed ops on the cpu backend', () => {
  const addon = withNativeKernels();

  it('registers with the native kernels and goes with them', () => {
    expect(hasFusedKernels(CODA_ATTENTION_KERNEL, CODA_ATTENTION_GRAD_KERNEL)).toBe(true);
    unregisterNativeKernels();
    expect(hasFusedKernels(CODA_ATTENTION_KERNEL)).toBe(false);
    registerNativeKernels(addon());
    expect(hasFusedKernels(CODA_ATTENTION_KERNEL, CODA_ATTENTION_GRAD_KERNEL)).toBe(true);
  });

  // the KDP CPU study's shapes (64 queries, 20 components, keys of 32, prompts of 4 tokens of 64), small odd ones,
  // one query and one component (a zero key or attention vector has no gradient to compare: the composition's √ at 0
  // gives NaN there, as PyTorch's does)
  const cases: Array<[string, number, number, number, number]> = [
    ['KDP CPU study', 64, 20, 32, 256],
    ['odd sizes', 5, 3, 7, 9],
    ['one query, one component', 1, 1, 4, 6],
  ];
  for (const [label, n, m, dq, e] of cases) {
    it(`${label}: the prompts and the gradients wrt q, K, A, P`, async () => {
      const { data, shapes } = inputs(n, m, dq, e);
      const before = tf.memory().numTensors;
      const ours = valueAndGrads(data, shapes);
      expect(tf.memory().numTensors, 'tensors left behind').toBe(before);
      const ref = await onCpu(() => valueAndGrads(data, shapes));
      ['prompts', 'dq', 'dK', 'dA', 'dP'].forEach((what, i) => expectMatches(ours[i] as Vals, ref[i] as Vals, `${label}: ${what}`));
    });
  }

  it('rejects mismatched shapes with a ShapeError naming them', () => {
    const [q, k, p] = [tf.zeros([2, 4]), tf.zeros([3, 5]), tf.zeros([3, 6])] as tf.Tensor2D[];
    expect(() => codaAttention(q as tf.Tensor2D, k as tf.Tensor2D, k as tf.Tensor2D, p as tf.Tensor2D)).toThrow(/got q \[2,4\], k \[3,5\], a \[3,5\], p \[3,6\]/);
    tf.dispose([q, k, p]);
  });
});
