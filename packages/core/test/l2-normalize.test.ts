import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { l2Normalize } from '@promptkd/core';

/** Autodiff through the composition PyTorch's `F.normalize` computes, for comparison. */
const composed = (x: tf.Tensor, eps: number): tf.Tensor => tf.div(x, tf.maximum(tf.sqrt(tf.sum(tf.square(x), -1, true)), eps));

describe('l2Normalize', () => {
  it('divides each row by its norm: [3, 4] → [0.6, 0.8]; a zero row stays zero', () => {
    const y = l2Normalize(tf.tensor2d([[3, 4], [0, 0]])).arraySync() as number[][];
    expect(y[0]?.[0]).toBeCloseTo(0.6, 7);
    expect(y[0]?.[1]).toBeCloseTo(0.8, 7);
    expect(y[1]).toEqual([0, 0]);
  });

  it('has the hand-derived gradient (dy − y·⟨dy, y⟩)/‖x‖', () => {
    // x = [3, 4], y = [0.6, 0.8], dy = [1, 2]: ⟨dy, y⟩ = 2.2 → dx = ([1, 2] − 2.2·[0.6, 0.8]) / 5 = [−0.064, 0.048]
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(l2Normalize(t), tf.tensor2d([[1, 2]]))))(tf.tensor2d([[3, 4]])).dataSync();
    expect(g[0]).toBeCloseTo(-0.064, 7);
    expect(g[1]).toBeCloseTo(0.048, 7);
  });

  it('matches autodiff through the composition, rows of rank 3, and central finite differences', () => {
    const x = tf.randomNormal([2, 3, 5], 0, 1, 'float32', 3);
    const w = tf.randomNormal([2, 3, 5], 0, 1, 'float32', 4);
    const loss = (f: (t: tf.Tensor) => tf.Tensor) => (t: tf.Tensor): tf.Scalar => tf.sum(tf.mul(tf.square(f(t)), w));
    const ours = tf.grad(loss((t) => l2Normalize(t)))(x).dataSync();
    const ref = tf.grad(loss((t) => composed(t, 1e-12)))(x).dataSync();
    ours.forEach((v, i) => expect(v).toBeCloseTo(ref[i] as number, 5));
    // finite differences in float64 on the host
    const xs = Array.from(x.dataSync());
    const ws = Array.from(w.dataSync());
    const f = (v: number[]): number => {
      let s = 0;
      for (let r = 0; r < 6; r++) {
        const row = v.slice(r * 5, r * 5 + 5);
        const n = Math.hypot(...row);
        row.forEach((e, j) => (s += (e / n) ** 2 * (ws[r * 5 + j] as number)));
      }
      return s;
    };
    for (const i of [0, 7, 29]) {
      const h = 1e-4;
      const up = xs.slice();
      const down = xs.slice();
      up[i] = (up[i] as number) + h;
      down[i] = (down[i] as number) - h;
      expect(ours[i]).toBeCloseTo((f(up) - f(down)) / (2 * h), 3);
    }
  });

  it('below ε divides by ε, with the gradient dy/ε as PyTorch gives', () => {
    const x = tf.tensor2d([[3e-4, 4e-4]]);
    expect(Array.from(l2Normalize(x, 1e-2).dataSync()).map((v) => Number(v.toFixed(6)))).toEqual([0.03, 0.04]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(l2Normalize(t, 1e-2), tf.tensor2d([[1, 2]]))))(x).dataSync();
    const ref = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(composed(t, 1e-2), tf.tensor2d([[1, 2]]))))(x).dataSync();
    expect(Array.from(g)).toEqual(Array.from(ref));
    expect(g[0]).toBeCloseTo(100, 4);
  });

  it('leaves no tensor behind but its result, with or without a gradient', () => {
    const x = tf.randomNormal([4, 8]);
    const before = tf.memory().numTensors;
    const y = l2Normalize(x);
    expect(tf.memory().numTensors).toBe(before + 1);
    y.dispose();
    const g = tf.grad((t: tf.Tensor) => tf.sum(l2Normalize(t)))(x);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([x, g]);
  });
});
