import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ShapeError, globalAvgPool } from '@promptkd/core';

describe('globalAvgPool', () => {
  it('averages each channel over H and W per sample (hand values), with the gradient dy/(H·W) everywhere', () => {
    // sample 0, channel 0: 1, 2, 3, 6 → 3; channel 1: 0, 0, 4, 4 → 2
    const x = tf.tensor4d([1, 0, 2, 0, 3, 4, 6, 4], [1, 2, 2, 2]);
    expect(Array.from(globalAvgPool(x).dataSync())).toEqual([3, 2]);
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(globalAvgPool(t as tf.Tensor4D), tf.tensor2d([[4, -8]]))))(x).dataSync();
    expect(Array.from(g)).toEqual([1, -2, 1, -2, 1, -2, 1, -2]);
    expect(() => globalAvgPool(tf.zeros([2, 3, 4]) as unknown as tf.Tensor4D)).toThrow(ShapeError);
  });

  it('matches tf.mean over [1, 2] and its gradient, leaving no tensor behind', () => {
    const x = tf.randomNormal([3, 5, 4, 6], 0, 1, 'float32', 5) as tf.Tensor4D;
    const w = tf.randomNormal([3, 6], 0, 1, 'float32', 6);
    const before = tf.memory().numTensors;
    const ours = tf.tidy(() => [globalAvgPool(x), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(globalAvgPool(t as tf.Tensor4D), w)))(x)].map((t) => t.dataSync()));
    expect(tf.memory().numTensors).toBe(before);
    const ref = tf.tidy(() => [tf.mean(x, [1, 2]), tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.mean(t, [1, 2]), w)))(x)].map((t) => t.dataSync()));
    ours.forEach((a, k) => a.forEach((v, i) => expect(v).toBeCloseTo((ref[k] as Float32Array)[i] as number, 6)));
    tf.dispose([x, w]);
  });
});
