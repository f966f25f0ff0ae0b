import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, ShapeError } from '@promptkd/core';
import { expectNoTensorLeak } from '@promptkd/testing';
import { lossValues, weightedSum } from '@promptkd/kd-losses';

describe('weightedSum', () => {
  it('returns the weighted total and every unweighted term', () => {
    const a = tf.scalar(2);
    const b = tf.scalar(3);
    const r = weightedSum({ ce: [0.5, a], kd: [0.25, b] });
    const v = lossValues(r);
    expect(v.total).toBeCloseTo(0.5 * 2 + 0.25 * 3, 6);
    expect(v.terms).toEqual({ ce: 2, kd: 3 });
    expect(r.terms.ce).toBe(a);
    r.total.dispose();
    tf.dispose([a, b]);
  });

  it('propagates gradients with the weights and leaks nothing inside tf.grads', async () => {
    const x = tf.scalar(1.5);
    await expectNoTensorLeak(() => {
      const g = tf.grad((v: tf.Tensor) => weightedSum({ sq: [2, tf.square(v) as tf.Scalar], lin: [-1, v as tf.Scalar] }).total)(x);
      expect(g.dataSync()[0]).toBeCloseTo(2 * 2 * 1.5 - 1, 5);
      g.dispose();
    });
    x.dispose();
  });

  it('a weight of 1 still returns a new total tensor (disposing it keeps the term alive)', () => {
    const a = tf.scalar(4);
    const r = weightedSum({ only: [1, a] });
    r.total.dispose();
    expect(a.isDisposed).toBe(false);
    a.dispose();
  });

  it('rejects empty maps, non-finite weights and non-scalar terms', () => {
    expect(() => weightedSum({})).toThrow(ConfigError);
    const a = tf.scalar(1);
    expect(() => weightedSum({ a: [Number.NaN, a] })).toThrow(/finite/);
    const v = tf.tensor1d([1, 2]);
    expect(() => weightedSum({ v: [1, v as unknown as tf.Scalar] })).toThrow(ShapeError);
    tf.dispose([a, v]);
  });
});
