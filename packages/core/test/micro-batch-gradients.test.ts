import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { describeBackends } from '@promptkd/testing';
import { ConfigError, microBatchGradients, microBatches, sliceRows, type RowRange } from '@promptkd/core';

/** A two-layer net on 13 rows with two row-mean loss terms (MSE and a log-sum-exp term). */
function problem() {
  const x = tf.randomNormal([13, 6], 0, 1, 'float32', 1);
  const y = tf.randomNormal([13, 3], 0, 1, 'float32', 2);
  const w1 = tf.variable(tf.randomNormal([6, 8], 0, 0.5, 'float32', 3));
  const w2 = tf.variable(tf.randomNormal([8, 3], 0, 0.5, 'float32', 4));
  const terms = (rows: RowRange): Record<string, tf.Scalar> => {
    const b = sliceRows({ x, y }, rows);
    const out = tf.matMul(tf.tanh(tf.matMul(b.x, w1)), w2);
    return { mse: tf.mean(tf.square(tf.sub(out, b.y))) as tf.Scalar, lse: tf.mul(tf.mean(tf.logSumExp(out, 1)), 0.3) as tf.Scalar };
  };
  return { vars: [w1, w2], terms, dispose: () => tf.dispose([x, y, w1, w2]) };
}

function read(r: { terms: Record<string, tf.Scalar>; value: tf.Scalar; grads: tf.NamedTensorMap }, vars: tf.Variable[]) {
  const out = {
    terms: Object.fromEntries(Object.entries(r.terms).map(([k, t]) => [k, t.dataSync()[0] as number])),
    value: r.value.dataSync()[0] as number,
    grads: vars.map((v) => Array.from((r.grads[v.name] as tf.Tensor).dataSync())),
  };
  tf.dispose([r.value, ...Object.values(r.terms), ...Object.values(r.grads)]);
  return out;
}

describeBackends(
  'microBatchGradients',
  () => {
    it('gives the whole batch’s terms and gradients (row-mean losses) and leaves no tensor behind', () => {
      const p = problem();
      const whole = read(microBatchGradients(p.terms, p.vars, { batchSize: 13, microBatch: 13 }), p.vars);
      const before = tf.memory().numTensors;
      const micro = read(microBatchGradients(p.terms, p.vars, { batchSize: 13, microBatch: 5 }), p.vars);
      expect(tf.memory().numTensors).toBe(before);
      for (const k of ['mse', 'lse']) expect(micro.terms[k]).toBeCloseTo(whole.terms[k] as number, 5);
      expect(micro.value).toBeCloseTo(whole.value, 5);
      whole.grads.forEach((g, i) => {
        const scale = Math.max(...g.map(Math.abs));
        g.forEach((v, j) => expect(Math.abs((micro.grads[i]![j] as number) - v)).toBeLessThanOrEqual(1e-5 * scale));
      });
      p.dispose();
    });

    it('holds one micro-batch’s activations at a time', async () => {
      const x = tf.randomNormal([64, 256], 0, 1, 'float32', 5);
      const w = tf.variable(tf.randomNormal([256, 256], 0, 0.1, 'float32', 6));
      const terms = (r: RowRange) => {
        const b = sliceRows({ x }, r).x;
        let h: tf.Tensor = b;
        for (let i = 0; i < 4; i++) h = tf.tanh(tf.matMul(h, w));
        return { l: tf.mean(tf.square(h)) as tf.Scalar };
      };
      const peak = async (microBatch: number) =>
        (await tf.profile(() => void read(microBatchGradients(terms, [w], { batchSize: 64, microBatch }), [w]))).peakBytes;
      expect(await peak(8)).toBeLessThan(await peak(64));
      tf.dispose([x, w]);
    });

    it('with batch statistics the rows interact: micro-batches give another gradient', () => {
      const x = tf.randomNormal([12, 4], 0, 1, 'float32', 7);
      const w = tf.variable(tf.randomNormal([4, 4], 0, 0.5, 'float32', 8));
      const terms = (r: RowRange) => {
        const h = tf.matMul(sliceRows({ x }, r).x, w);
        const { mean, variance } = tf.moments(h, 0);
        return { l: tf.mean(tf.square(tf.tanh(tf.div(tf.sub(h, mean), tf.sqrt(tf.add(variance, 1e-5)))))) as tf.Scalar };
      };
      const whole = read(microBatchGradients(terms, [w], { batchSize: 12, microBatch: 12 }), [w]).grads[0]!;
      const micro = read(microBatchGradients(terms, [w], { batchSize: 12, microBatch: 4 }), [w]).grads[0]!;
      expect(Math.max(...whole.map((v, i) => Math.abs(v - (micro[i] as number))))).toBeGreaterThan(1e-4);
      tf.dispose([x, w]);
    });
  },
  ['wasm', 'cpu'],
);

it('microBatches splits a batch and rejects sizes that are not positive integers', () => {
  expect(microBatches({ batchSize: 10, microBatch: 4 })).toEqual([
    { start: 0, size: 4 },
    { start: 4, size: 4 },
    { start: 8, size: 2 },
  ]);
  expect(microBatches({ batchSize: 3, microBatch: 8 })).toEqual([{ start: 0, size: 3 }]);
  expect(() => microBatches({ batchSize: 8, microBatch: 0 })).toThrow(ConfigError);
  expect(() => microBatches({ batchSize: 8, microBatch: 2.5 })).toThrow(/microBatch must be a positive integer/);
});
