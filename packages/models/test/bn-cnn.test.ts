import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { disposeAll } from '@promptkd/core';
import { BnCnn, deserializeModel } from '@promptkd/models';
import { expectClose, readFixture } from '@promptkd/testing';
import { fixtureBytes, flat, nhwc } from './helpers.js';

interface StatsFixture { x_nchw: number[]; logits_eval: number[]; features: number[]; loss_bn: number; grad_x_nchw: number[] }
interface TrainFixture { x_nchw: number[]; logits_train: number[]; running_mean_after: number[][]; running_var_after: number[][] }

function fixtureModel(): BnCnn {
  const m = new BnCnn({ blocks: [{ channels: 4 }, { channels: 5, stride: 2 }], numClasses: 3 });
  deserializeModel(m, fixtureBytes(import.meta.url, 'bn-cnn.safetensors'), { file: 'bn-cnn.safetensors' });
  return m;
}

describe('bnCnn vs PyTorch fixtures', () => {
  it('has the nn.Sequential parameter names of the fixture', () => {
    const m = fixtureModel();
    expect([...m.namedVariables().keys()]).toEqual([
      '0.weight', '1.weight', '1.bias', '1.running_mean', '1.running_var',
      '3.weight', '4.weight', '4.bias', '4.running_mean', '4.running_var', '8.weight', '8.bias',
    ]);
    m.dispose();
  });

  it('eval logits, BN taps, CMI features, BN loss and its input gradient match', () => {
    const fx = readFixture<StatsFixture>(import.meta.url, 'bn-statistics-loss.json');
    const m = fixtureModel();
    const x = nhwc(fx.x_nchw);
    const out = m.apply(x, { bnTaps: true });
    expectClose(out.logits.dataSync(), flat(fx.logits_eval), { rtol: 1e-4, atol: 1e-5, label: 'logits' });
    const bn = out.bn ?? [];
    expect(bn.map((b) => b.name)).toEqual(['1', '4']);
    const feats = tf.concat(bn.map((b) => b.spatialMean as tf.Tensor2D), 1);
    expectClose(feats.dataSync(), flat(fx.features), { label: 'features' });
    const lossFn = (xi: tf.Tensor): tf.Scalar => {
      const o = m.apply(xi as tf.Tensor4D, { bnTaps: true });
      return tf.addN((o.bn ?? []).map((b) => tf.add(tf.norm(tf.sub(b.runningVar, b.variance)), tf.norm(tf.sub(b.runningMean, b.mean))))) as tf.Scalar;
    };
    const loss = lossFn(x);
    expect(loss.dataSync()[0]).toBeCloseTo(fx.loss_bn, 4);
    const g = tf.grad(lossFn)(x);
    const gNchw = tf.transpose(g, [0, 3, 1, 2]);
    expectClose(gNchw.dataSync(), flat(fx.grad_x_nchw), { rtol: 1e-3, atol: 1e-5, label: 'grad x' });
    disposeAll([x, out, feats, loss, g, gNchw]);
    m.dispose();
  });

  it('train mode: batch-stat logits and running stats (momentum 0.1, unbiased var) match', () => {
    const fx = readFixture<TrainFixture>(import.meta.url, 'bn-train-mode.json');
    const m = fixtureModel();
    const x = nhwc(fx.x_nchw);
    const out = m.apply(x, { training: true });
    expectClose(out.logits.dataSync(), flat(fx.logits_train), { label: 'train logits' });
    const v = m.namedVariables();
    expectClose(v.get('1.running_mean')!.dataSync(), fx.running_mean_after[0]!, { label: 'rm1' });
    expectClose(v.get('4.running_mean')!.dataSync(), fx.running_mean_after[1]!, { label: 'rm4' });
    expectClose(v.get('1.running_var')!.dataSync(), fx.running_var_after[0]!, { label: 'rv1' });
    expectClose(v.get('4.running_var')!.dataSync(), fx.running_var_after[1]!, { label: 'rv4' });
    disposeAll([x, out]);
    m.dispose();
  });

  it("bnStatistics 'batch': the PyTorch train-mode logits, with the running statistics bit-unchanged", () => {
    const fx = readFixture<TrainFixture>(import.meta.url, 'bn-train-mode.json');
    const m = fixtureModel();
    const before = new Map([...m.namedVariables()].map(([k, v]) => [k, Array.from(v.dataSync())]));
    const x = nhwc(fx.x_nchw);
    const out = m.apply(x, { training: false, bnStatistics: 'batch' });
    expectClose(out.logits.dataSync(), flat(fx.logits_train), { label: 'batch-statistics logits' });
    // gradients flow through the batch statistics, and still nothing is written
    const g = tf.grad((xi: tf.Tensor) => tf.sum(m.apply(xi as tf.Tensor4D, { training: false, bnStatistics: 'batch' }).logits))(x);
    expect(Number.isFinite(g.sum().dataSync()[0])).toBe(true);
    for (const [k, v] of m.namedVariables()) expect(Array.from(v.dataSync()), k).toEqual(before.get(k));
    const evalOut = m.apply(x, { training: false });
    expect(Math.max(...Array.from(tf.abs(tf.sub(evalOut.logits, out.logits)).dataSync()))).toBeGreaterThan(1e-3);
    disposeAll([x, out, g, evalOut]);
    m.dispose();
  });
});
