import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { l2Norm } from '@promptkd/core';

describe('l2Norm', () => {
  it('is √(Σx²): 3-4-12 gives 13, per row with keepDims, and agrees with tf.norm on random values', () => {
    expect(l2Norm(tf.tensor1d([3, -4, 12])).dataSync()[0]).toBeCloseTo(13, 6);
    const rows = l2Norm(tf.tensor2d([[3, 4], [-6, 8]]), 1, true);
    expect(rows.shape).toEqual([2, 1]);
    expect(Array.from(rows.dataSync())).toEqual([5, 10]);
    const x = tf.randomNormal([4, 5, 6], 0, 1, 'float32', 7);
    const got = l2Norm(x, [1, 2]).dataSync();
    const want = tf.norm(x, 'euclidean', [1, 2]).dataSync();
    got.forEach((v, i) => expect(Math.abs(v - want[i]!) / Math.abs(want[i]!)).toBeLessThan(1e-6));
  });

  it('has the gradient x / ‖x‖ (hand-derived), per row along an axis', () => {
    const x = tf.tensor2d([[3, -4], [0.5, 1.2]]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(l2Norm(t, 1), tf.tensor1d([1, 2]))))(x).arraySync() as number[][];
    const want = [[3 / 5, -4 / 5], [(2 * 0.5) / 1.3, (2 * 1.2) / 1.3]];
    g.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(want[i]![j]!, 6)));
  });

  it('has tf.norm\'s gradient over several axes, all axes, and a negative axis with keepDims', () => {
    const x = tf.randomNormal([3, 4, 5], 0, 1, 'float32', 11);
    const w = tf.randomNormal([3], 0, 1, 'float32', 12);
    const cases: Array<[(t: tf.Tensor) => tf.Scalar, (t: tf.Tensor) => tf.Scalar]> = [
      [(t) => tf.sum(tf.mul(l2Norm(t, [1, 2]), w)), (t) => tf.sum(tf.mul(tf.norm(t, 'euclidean', [1, 2]), w))],
      [(t) => tf.mul(l2Norm(t), 3) as tf.Scalar, (t) => tf.mul(tf.norm(t), 3) as tf.Scalar],
      [(t) => tf.sum(tf.mul(l2Norm(t, -1, true), tf.reshape(w, [3, 1, 1]))), (t) => tf.sum(tf.mul(tf.norm(t, 'euclidean', -1, true), tf.reshape(w, [3, 1, 1])))],
    ];
    for (const [ours, ref] of cases) {
      const a = tf.grad(ours)(x).dataSync();
      const b = tf.grad(ref)(x).dataSync();
      a.forEach((v, i) => expect(v).toBeCloseTo(b[i] as number, 5));
    }
  });

  it('leaves no tensor behind but its result', () => {
    const x = tf.ones([8, 8]);
    const before = tf.memory().numTensors;
    const n = l2Norm(x);
    expect(tf.memory().numTensors).toBe(before + 1);
    tf.dispose([x, n]);
  });
});
