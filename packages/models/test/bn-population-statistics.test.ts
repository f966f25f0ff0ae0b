import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { disposeAll } from '@promptkd/core';
import { BnCnn, bnOverrideTensors, bnPopulationStatistics, deserializeModel } from '@promptkd/models';
import { expectClose, readFixture } from '@promptkd/testing';
import { fixtureBytes, flat, nhwc } from './helpers.js';

interface Fixture {
  x_nchw: number[];
  batches: number[];
  stats: Record<string, { mean: number[]; variance: number[] }>;
  logits_full_batch: number[][];
}

function fixtureModel(): BnCnn {
  const m = new BnCnn({ blocks: [{ channels: 4 }, { channels: 5, stride: 2 }], numClasses: 3 });
  deserializeModel(m, fixtureBytes(import.meta.url, 'bn-cnn.safetensors'), { file: 'bn-cnn.safetensors' });
  return m;
}

function snapshot(m: BnCnn): Map<string, Float32Array> {
  return new Map([...m.namedVariables()].map(([k, v]) => [k, Float32Array.from(v.dataSync())]));
}

function slices(x: tf.Tensor4D, sizes: readonly number[]): tf.Tensor4D[] {
  let at = 0;
  return sizes.map((n) => tf.slice(x, [(at += n) - n, 0, 0, 0], [n, -1, -1, -1]));
}

describe('bnPopulationStatistics (PyTorch fixture)', () => {
  const fx = readFixture<Fixture>(import.meta.url, 'bn-population-statistics.json');

  it('equals the population mean and biased variance of each BN input over batches of 5, 5 and 2; running statistics bit-unchanged', () => {
    const m = fixtureModel();
    const before = snapshot(m);
    const x = nhwc(fx.x_nchw);
    const batches = slices(x, fx.batches);
    const pop = bnPopulationStatistics(m, batches);
    expect(pop.images).toBe(12);
    expect(Object.keys(pop.layers)).toEqual(['1', '4']);
    for (const name of ['1', '4']) {
      expectClose(pop.layers[name]!.mean, fx.stats[name]!.mean, { rtol: 1e-4, atol: 1e-6, label: `mean ${name}` });
      expectClose(pop.layers[name]!.variance, fx.stats[name]!.variance, { rtol: 1e-4, atol: 1e-6, label: `variance ${name}` });
    }
    for (const [k, v] of snapshot(m)) expect(v, k).toEqual(before.get(k));
    // the batch order does not matter (exact merge, not a moving average)
    const reversed = bnPopulationStatistics(m, [...batches].reverse());
    expectClose(reversed.layers['4']!.variance, pop.layers['4']!.variance, { rtol: 1e-5, label: 'reversed' });
    disposeAll([x, ...batches]);
    m.dispose();
  });

  it('eval mode with the statistics of the whole set as one batch equals the batch-statistics forward (and PyTorch)', () => {
    const m = fixtureModel();
    const before = snapshot(m);
    const x = nhwc(fx.x_nchw);
    const override = bnOverrideTensors(bnPopulationStatistics(m, [x]));
    const served = m.apply(x, { bnOverride: override });
    const batch = m.apply(x, { bnStatistics: 'batch' });
    expectClose(served.logits.dataSync(), batch.logits.dataSync(), { rtol: 1e-4, atol: 1e-5, label: 'override vs batch' });
    expectClose(served.logits.dataSync(), flat(fx.logits_full_batch), { rtol: 1e-4, atol: 1e-5, label: 'override vs PyTorch' });
    // one image at a time gives the same rows: eval mode does not depend on the batch
    const one = m.apply(tf.slice(x, [3, 0, 0, 0], [1, -1, -1, -1]), { bnOverride: override });
    expectClose(one.logits.dataSync(), served.logits.dataSync().slice(9, 12), { rtol: 1e-5, atol: 1e-6, label: 'row 3 alone' });
    // and differs from plain eval mode (the override is used)
    const plain = m.apply(x);
    expect(Math.max(...Array.from(tf.abs(tf.sub(plain.logits, served.logits)).dataSync()))).toBeGreaterThan(1e-3);
    for (const [k, v] of snapshot(m)) expect(v, k).toEqual(before.get(k));
    disposeAll([x, served, batch, one, plain, override]);
    m.dispose();
  });

  it('per-row statistics [N, C]: each row equals a forward of that row alone on its own [C] statistics, bit for bit', () => {
    const m = fixtureModel();
    const x = nhwc(fx.x_nchw);
    const rows = slices(x, [4, 4, 4]);
    const sets = rows.map((b) => bnOverrideTensors(bnPopulationStatistics(m, [b])));
    const assign = [0, 2, 1, 1, 0, 2, 2, 1, 0, 0, 1, 2]; // row i uses set assign[i]
    const perRow = Object.fromEntries(
      Object.keys(sets[0]!).map((layer) => {
        const pick = (w: 'mean' | 'variance') => tf.stack(assign.map((a) => sets[a]![layer]![w])) as tf.Tensor2D;
        return [layer, { mean: pick('mean'), variance: pick('variance') }];
      }),
    );
    const start = tf.memory().numTensors;
    const mixed = m.apply(x, { bnOverride: perRow });
    const got = mixed.logits.arraySync();
    mixed.logits.dispose();
    expect(tf.memory().numTensors).toBe(start);
    assign.forEach((a, i) => {
      const alone = m.apply(tf.slice(x, [i, 0, 0, 0], [1, -1, -1, -1]), { bnOverride: sets[a]! });
      expect(Float32Array.from(got[i]!), `row ${i}`).toEqual(Float32Array.from(alone.logits.dataSync()));
      alone.logits.dispose();
    });
    disposeAll([x, ...rows, ...sets, perRow]);
    m.dispose();
  });

  it('refuses a missing layer, a wrong channel count, and an override with batch statistics; leaks nothing', () => {
    const m = fixtureModel();
    const x = tf.zeros([2, 8, 8, 3]) as tf.Tensor4D;
    const override = bnOverrideTensors(bnPopulationStatistics(m, [x]));
    const start = tf.memory().numTensors;
    expect(() => m.apply(x, { bnOverride: { '1': override['1']! } })).toThrow(/no statistics for BatchNorm layer '4'/);
    expect(() => m.apply(x, { bnOverride: { ...override, '4': override['1']! } })).toThrow(/need \[5\] \(every row\) or \[2, 5\] \(one per row\), got \[4\] and \[4\]/);
    const rows3 = { mean: tf.zeros([3, 4]) as tf.Tensor2D, variance: tf.ones([3, 4]) as tf.Tensor2D };
    expect(() => m.apply(x, { bnOverride: { ...override, '1': rows3 } })).toThrow(/\[2, 4\] \(one per row\), got \[3, 4\]/);
    disposeAll([rows3.mean, rows3.variance]);
    expect(() => m.apply(x, { bnOverride: override, bnStatistics: 'batch' })).toThrow(/cannot be combined/);
    expect(() => m.apply(x, { bnOverride: override, training: true })).toThrow(/cannot be combined/);
    expect(() => bnPopulationStatistics(m, [])).toThrow(/at least one batch/);
    const out = m.apply(x, { bnOverride: override });
    out.logits.dispose();
    bnPopulationStatistics(m, [x, x]);
    expect(tf.memory().numTensors).toBe(start);
    disposeAll([x, override]);
    m.dispose();
  });
});
