import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { disposeOptimizer } from '@promptkd/core';

describe('disposeOptimizer', () => {
  for (const [name, make] of [
    ['momentum', () => tf.train.momentum(0.1, 0.9)],
    ['sgd', () => tf.train.sgd(0.1)],
    ['adam', () => tf.train.adam(0.01)],
  ] as const) {
    it(`frees every tensor of a used ${name} optimizer`, () => {
      const v = tf.variable(tf.ones([3]));
      const before = tf.memory().numTensors;
      const opt = make();
      if (opt.getClassName() !== 'Adam') (opt as tf.SGDOptimizer).setLearningRate(0.05);
      opt.minimize(() => tf.sum(tf.square(v)) as tf.Scalar, false, [v]);
      disposeOptimizer(opt);
      expect(tf.memory().numTensors).toBe(before);
      v.dispose();
    });
  }
});
