import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { Rng, ShapeError, disposeAll } from '@promptkd/core';
import { CmiGenerator, deserializeModel, serializeModel } from '@promptkd/models';
import { expectNoTensorLeak } from '@promptkd/testing';

describe('CMI generator', () => {
  it('KiOP default config: names, shapes and range', () => {
    const g = new CmiGenerator();
    const names = [...g.namedVariables().keys()];
    expect(names).toEqual([
      'l1.0.weight', 'l1.0.bias',
      'conv_blocks.0.weight', 'conv_blocks.0.bias', 'conv_blocks.0.running_mean', 'conv_blocks.0.running_var',
      'conv_blocks.2.weight',
      'conv_blocks.3.weight', 'conv_blocks.3.bias', 'conv_blocks.3.running_mean', 'conv_blocks.3.running_var',
      'conv_blocks.6.weight',
      'conv_blocks.7.weight', 'conv_blocks.7.bias', 'conv_blocks.7.running_mean', 'conv_blocks.7.running_var',
      'conv_blocks.9.weight', 'conv_blocks.9.bias',
    ]);
    expect(g.namedVariables().get('l1.0.weight')!.shape).toEqual([256, 8192]);
    const z = tf.randomNormal([2, 256], 0, 1, 'float32', 1) as tf.Tensor2D;
    const { images, bn } = g.generate(z, { bnTaps: true });
    expect(images.shape).toEqual([2, 32, 32, 3]);
    expect(tf.min(images).dataSync()[0]).toBeGreaterThanOrEqual(0);
    expect(tf.max(images).dataSync()[0]).toBeLessThanOrEqual(1);
    expect(bn!.map((b) => b.name)).toEqual(['conv_blocks.0', 'conv_blocks.3', 'conv_blocks.7']);
    expect(() => g.apply(tf.zeros([1, 10]) as tf.Tensor2D)).toThrow(ShapeError);
    disposeAll([z, images, bn]);
    g.dispose();
  });

  it('reinitialize draws N(0,0.02) weights, N(1,0.02) BN weights, zero biases, seeded', () => {
    const g = new CmiGenerator({ nz: 16, ngf: 8, imageSize: 8 });
    g.reinitialize(Rng.fromSeed(3));
    const v = g.namedVariables();
    const stats = (n: string) => tf.tidy(() => { const m = tf.moments(v.get(n)!); return [m.mean.dataSync()[0]!, Math.sqrt(m.variance.dataSync()[0]!)]; });
    const [m0, s0] = stats('l1.0.weight');
    expect(Math.abs(m0!)).toBeLessThan(0.002);
    expect(s0).toBeCloseTo(0.02, 2);
    const [m1, s1] = stats('conv_blocks.3.weight');
    expect(m1).toBeCloseTo(1, 1);
    expect(s1).toBeLessThan(0.05);
    for (const n of ['l1.0.bias', 'conv_blocks.3.bias', 'conv_blocks.9.bias']) expect(tf.max(tf.abs(v.get(n)!)).dataSync()[0]).toBe(0);
    const a = v.get('conv_blocks.6.weight')!.dataSync().slice();
    g.reinitialize(Rng.fromSeed(3));
    expect(Array.from(v.get('conv_blocks.6.weight')!.dataSync())).toEqual(Array.from(a));
    g.dispose();
  });

  it('trains generator params and z with Adam without leaking; save/load round trip', async () => {
    const g = new CmiGenerator({ nz: 8, ngf: 4, imageSize: 8, seed: 2 });
    const z = tf.variable(tf.randomNormal([4, 8], 0, 1, 'float32', 3));
    const opt = tf.train.adam(0.01, 0.5, 0.999);
    const step = () => tf.tidy(() => { opt.minimize(() => tf.mean(tf.square(tf.sub(g.apply(z as tf.Tensor as tf.Tensor2D), 0.3))), false, [...g.trainableVariables(), z]); });
    step();
    await expectNoTensorLeak(step, { label: 'generator step' });
    const h = new CmiGenerator({ nz: 8, ngf: 4, imageSize: 8, seed: 9 });
    deserializeModel(h, serializeModel(g));
    const a = g.apply(z as tf.Tensor as tf.Tensor2D, { training: false });
    const b = h.apply(z as tf.Tensor as tf.Tensor2D, { training: false });
    expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
    disposeAll([z, a, b]);
    opt.dispose();
    g.dispose();
    h.dispose();
  });
});
