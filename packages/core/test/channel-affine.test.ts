import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ShapeError, channelAffine } from '@promptkd/core';

// x [2, 1, 2, 2] (N, H, W, C): image 0 then image 1, each two positions of two channels
const X = [1, -2, 3, 0.5, -1, 4, 2, -3];
const close = (got: ArrayLike<number>, want: number[], label: string): void => {
  expect(got.length, label).toBe(want.length);
  want.forEach((w, i) => expect(Math.abs((got[i] as number) - w), `${label}[${i}]`).toBeLessThan(1e-6 * Math.max(1, Math.abs(w))));
};

describe('channelAffine', () => {
  it('is x·scale + shift per channel, with one scale for every image or one per image, then ReLU on request', () => {
    const x = tf.tensor4d(X, [2, 1, 2, 2]);
    const s = tf.tensor1d([2, -1]);
    const b = tf.tensor1d([0.5, 1]);
    close(channelAffine(x, s, b).dataSync(), [2.5, 3, 6.5, 0.5, -1.5, -3, 4.5, 4], 'per channel');
    close(channelAffine(x, s, b, { relu: true }).dataSync(), [2.5, 3, 6.5, 0.5, 0, 0, 4.5, 4], 'relu');
    const sr = tf.tensor2d([[2, -1], [1, 3]]);
    const br = tf.tensor2d([[0.5, 1], [0, -1]]);
    close(channelAffine(x, sr, br).dataSync(), [2.5, 3, 6.5, 0.5, -1, 11, 2, -10], 'per image');
    tf.dispose([x, s, b, sr, br]);
  });

  it('has the hand-derived gradients: dx = w·s·step(y), ds = Σ w·x·step(y), db = Σ w·step(y)', () => {
    const x = tf.tensor4d(X, [2, 1, 2, 2]);
    const w = tf.tensor4d([1, 2, 3, 4, 5, 6, 7, 8], [2, 1, 2, 2]);
    const sr = tf.tensor2d([[2, -1], [1, 3]]);
    const br = tf.tensor2d([[0.5, 1], [0, -1]]);
    const [dx, ds, db] = tf.grads((a: tf.Tensor, s: tf.Tensor, b: tf.Tensor) => tf.sum(tf.mul(channelAffine(a, s, b, { relu: true }), w)))([x, sr, br]);
    // y before ReLU per image: [2.5, 3, 6.5, 0.5] and [-1, 11, 2, -10]: steps [1, 1, 1, 1] and [0, 1, 1, 0]
    close(dx!.dataSync(), [2, -2, 6, -4, 0, 18, 7, 0], 'dx');
    close(ds!.dataSync(), [1 * 1 + 3 * 3, 2 * -2 + 4 * 0.5, 7 * 2, 6 * 4], 'ds');
    close(db!.dataSync(), [1 + 3, 2 + 4, 7, 6], 'db');
    tf.dispose([x, w, sr, br, dx!, ds!, db!]);
  });

  it('refuses a scale or shift that is neither [C] nor [N, C], naming both shapes', () => {
    tf.tidy(() => {
      const x = tf.zeros([2, 3, 3, 4]);
      expect(() => channelAffine(x, tf.ones([3]), tf.ones([3]))).toThrow(ShapeError);
      expect(() => channelAffine(x, tf.ones([4]), tf.ones([2, 4]))).toThrow(/both be \[4\] or both \[2, 4\].*got \[4\] and \[2,4\]/);
    });
  });
});
