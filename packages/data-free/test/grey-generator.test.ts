import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { Rng } from '@promptkd/core';
import { expectNoTensorLeak } from '@promptkd/testing';
import { CMISynthesizer, GreyGenerator } from '@promptkd/data-free';
import { CmiGenerator } from '@promptkd/models';
import { fixtureBnCnn } from './helpers.js';

describe('GreyGenerator', () => {
  it('repeats a one-channel generator over the teacher channels, and its gradient reaches the inner weights', async () => {
    const inner = new CmiGenerator({ nz: 6, ngf: 4, imageSize: 8, channels: 1, seed: 1 });
    const g = new GreyGenerator(inner, 3);
    expect(g.latentDim).toBe(6);
    expect(g.trainableVariables()).toEqual(inner.trainableVariables());
    const z = tf.randomNormal([2, 6], 0, 1, 'float32', 4) as tf.Tensor2D;
    const x = g.apply(z);
    expect(x.shape).toEqual([2, 8, 8, 3]);
    const one = inner.apply(z);
    const px = x.arraySync() as number[][][][];
    const p1 = one.arraySync() as number[][][][];
    for (let n = 0; n < 2; n++) for (let i = 0; i < 8; i++) for (let j = 0; j < 8; j++) {
      expect(px[n]![i]![j]).toEqual([p1[n]![i]![j]![0], p1[n]![i]![j]![0], p1[n]![i]![j]![0]]);
    }
    // d/dθ Σ_c x_c = 3 · d/dθ x_1: the repeat sends every channel's gradient to the one drawn channel
    const { value: v3, grads: g3 } = tf.variableGrads(() => tf.sum(g.apply(z)) as tf.Scalar, g.trainableVariables());
    const { value: v1, grads: g1 } = tf.variableGrads(() => tf.mul(tf.sum(inner.apply(z)), 3) as tf.Scalar, inner.trainableVariables());
    for (const name of Object.keys(g1)) expect(tf.tidy(() => tf.sub(g3[name]!, g1[name]!).abs().max().arraySync() as number)).toBeLessThan(1e-4);
    tf.dispose([z, x, one, v1, v3, g1, g3]);
    await expectNoTensorLeak(() => tf.dispose(tf.tidy(() => g.apply(tf.zeros([1, 6]) as tf.Tensor2D))));
    g.dispose();
  });

  it('refuses an inner generator that draws colour', () => {
    const g = new GreyGenerator(new CmiGenerator({ nz: 6, ngf: 4, imageSize: 8, channels: 3, seed: 1 }), 3);
    const z = tf.zeros([1, 6]) as tf.Tensor2D;
    expect(() => g.apply(z)).toThrow(/one-channel generator; it made 3 channels/);
    z.dispose();
    g.dispose();
  });

  it('lets a CMI round make grey images for an RGB teacher', async () => {
    const teacher = fixtureBnCnn(import.meta.url);
    const g = new GreyGenerator(new CmiGenerator({ nz: 6, ngf: 4, imageSize: 8, channels: 1, seed: 1 }), teacher.inputChannels);
    const s = new CMISynthesizer({
      teacher,
      generator: g,
      config: { batchSize: 4, iterations: 2, nz: 6, bankCapacity: 16, negatives: 6, headHidden: 8, headDim: 4, seed: 3 },
    });
    await s.synthesize();
    const x = s.sample(4, Rng.fromSeed(1));
    const [r, gr, b] = tf.split(x, 3, 3);
    expect(tf.tidy(() => tf.sub(r!, gr!).abs().max().arraySync())).toBe(0);
    expect(tf.tidy(() => tf.sub(r!, b!).abs().max().arraySync())).toBe(0);
    tf.dispose([x, r!, gr!, b!]);
    s.dispose();
    g.dispose();
  });
});
