import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { bankAlignment, featureAlignment, realClassMeans } from '../src/feature-alignment.js';
import type { EvalSet, ImageStream } from '../src/ports.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** Images `[N, 1, 1, 2]` whose two pixels are the features (identity features). */
const features = (x: tf.Tensor4D) => tf.reshape(x, [x.shape[0], 2]) as tf.Tensor2D;
const images = (rows: number[][]) => tf.tensor4d(rows.flat(), [rows.length, 1, 1, 2]);

/** Real labelled images: class 0 along (1, 0), class 1 along (0, 1); one of class 1 sits nearer class 0's mean. */
const real: EvalSet = () => [
  { x: images([[1, 0], [2, 0.1], [0, 1], [0.1, 3], [1, 0.2]]), y: tf.tensor1d([0, 0, 1, 1, 1], 'int32') },
];

/** A stream that returns the same rows every time. */
const stream = (rows: number[][]): ImageStream => ({ next: (n) => images(rows.slice(0, n)) });

describe('featureAlignment', () => {
  it('counts training images nearest to the real mean of the class the teacher gives them, and real nearest-mean accuracy', async () => {
    const before = tf.memory().numTensors;
    const bank = stream([[3, 0], [0, 2], [1, 1.2], [0.5, 0.1]]);
    // the teacher reads the pixels as logits: it labels the rows 0, 1, 1, 0 — the features agree on all four
    const agree = await featureAlignment(features, real, bank, (x) => features(x), undefined, { n: 4, batchSize: 2, seed: 0 });
    expect(agree.bank).toBe(1);
    // real: the class-1 image (1, 0.2) is nearer class 0's mean, so 4 of 5
    expect(agree.real).toBeCloseTo(4 / 5, 12);
    // a teacher that says the opposite class: no training image is near its class
    const opposite = await featureAlignment(features, real, bank, (x) => tf.neg(features(x)), undefined, { n: 4, batchSize: 2, seed: 0 });
    expect(opposite.bank).toBe(0);
    // three of four: the teacher labels (3, 0) as class 1
    const teacher = (x: tf.Tensor4D) => tf.tidy(() => tf.add(features(x), tf.tensor2d([[0, 9], [0, 0], [0, 0], [0, 0]]).slice([0, 0], [x.shape[0], 2])) as tf.Tensor2D);
    const three = await featureAlignment(features, real, bank, teacher, undefined, { n: 4, batchSize: 4, seed: 0 });
    expect(three.bank).toBe(3 / 4);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('bankAlignment scores several feature spaces in one pass, each as featureAlignment alone does', async () => {
    const bank = stream([[3, 0], [0, 2], [1, 1.2], [0.5, 0.1]]);
    const swapped = (x: tf.Tensor4D) => tf.tidy(() => tf.reverse(features(x), 1) as tf.Tensor2D);
    const before = tf.memory().numTensors;
    const spaces = [
      { features, means: await realClassMeans(features, real) },
      { features: swapped, means: await realClassMeans(swapped, real) },
    ];
    const options = { n: 4, batchSize: 2, seed: 0 };
    const both = await bankAlignment(spaces, bank, (x) => features(x), undefined, options);
    const alone = await Promise.all([features, swapped].map((f) => featureAlignment(f, real, bank, (x) => features(x), undefined, options)));
    expect(both).toEqual(alone.map((a) => a.bank));
    expect(spaces.map((s) => s.means.separability)).toEqual(alone.map((a) => a.real));
    expect(tf.memory().numTensors).toBe(before);
  });
});
