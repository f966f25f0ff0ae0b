import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { Rng, type BatchNormTap } from '@promptkd/core';
import { expectClose, expectNoTensorLeak, readFixture } from '@promptkd/testing';
import {
  ContrastiveHead,
  adversarialLoss,
  bnStatisticsLoss,
  classPriorLoss,
  cmiContrastiveLoss,
  instanceMeanFeatures,
  sortedRandomTargets,
} from '@promptkd/data-free';
import { fixtureBnCnn, flat, nhwc } from './helpers.js';

interface BnFixture {
  x_nchw: number[];
  loss_bn: number;
  grad_x_nchw: number[];
  features: number[][];
}
interface CrFixture {
  tau: number;
  local: number[][];
  global: number[][];
  w1_out_in: number[][];
  b1: number[];
  w2_out_in: number[][];
  b2: number[];
  loss: number;
  grad_local: number[][];
}

describe('bnStatisticsLoss', () => {
  it('matches the PyTorch fixture (value and input gradient) through the BN CNN taps', () => {
    const fx = readFixture<BnFixture>(import.meta.url, 'bn-statistics-loss.json');
    const m = fixtureBnCnn(import.meta.url);
    const x = nhwc(fx.x_nchw);
    const f = (xi: tf.Tensor): tf.Scalar => bnStatisticsLoss(m.apply(xi as tf.Tensor4D, { bnTaps: true }).bn ?? []);
    const loss = tf.tidy(() => f(x).dataSync()[0] as number);
    expectClose([loss], [fx.loss_bn], { rtol: 1e-4, atol: 0, label: 'BN-statistics loss' });
    const g = tf.tidy(() => tf.transpose(tf.grad(f)(x), [0, 3, 1, 2]).dataSync());
    expectClose(g, flat(fx.grad_x_nchw), { rtol: 1e-3, atol: 1e-6, label: 'dL_bn/dx' });
    // instance-mean features of the same forward
    const feats = tf.tidy(() => instanceMeanFeatures(m.apply(x, { bnTaps: true }).bn ?? []).dataSync());
    expectClose(feats, flat(fx.features), { rtol: 1e-4, atol: 1e-6, label: 'features' });
    x.dispose();
    m.dispose();
  });

  it('is Σ_layers ‖σ²_run − σ²‖₂ + ‖μ_run − μ‖₂ on raw taps (hand-computed)', () => {
    const loss = tf.tidy(() => {
      const taps: BatchNormTap[] = [
        { name: 'a', mean: tf.tensor1d([1, 2]), variance: tf.tensor1d([4, 4]), runningMean: tf.tensor1d([1, 0]), runningVar: tf.tensor1d([1, 0]) },
        { name: 'b', mean: tf.tensor1d([3]), variance: tf.tensor1d([2]), runningMean: tf.tensor1d([0]), runningVar: tf.tensor1d([2]) },
      ];
      return bnStatisticsLoss(taps).dataSync()[0] as number;
    });
    // layer a: ‖(−3, −4)‖ = 5, ‖(0, −2)‖ = 2; layer b: ‖0‖ = 0, ‖−3‖ = 3
    expect(loss).toBeCloseTo(10, 5);
  });

  it('throws on a teacher without BN layers', () => {
    expect(() => bnStatisticsLoss([])).toThrow(/at least one BatchNorm/);
  });
});

describe('classPriorLoss', () => {
  it('equals the mean cross-entropy (hand-computed)', () => {
    const v = tf.tidy(() => classPriorLoss(tf.tensor2d([[0, 0, 0], [Math.log(2), 0, Math.log(5)]]), [2, 0]).dataSync()[0] as number);
    // row 0: −log(1/3); row 1: −log(2/8)
    expect(v).toBeCloseTo((Math.log(3) + Math.log(4)) / 2, 5);
  });

  it('sorted random targets are sorted, in range and seeded', () => {
    const a = sortedRandomTargets(50, 7, Rng.fromSeed(3));
    expect(a).toEqual([...a].sort((x, y) => x - y));
    expect(Math.min(...a)).toBeGreaterThanOrEqual(0);
    expect(Math.max(...a)).toBeLessThanOrEqual(6);
    expect(new Set(a).size).toBeGreaterThan(3);
    expect(sortedRandomTargets(50, 7, Rng.fromSeed(3))).toEqual(a);
  });
});

describe('adversarialLoss', () => {
  it('is −mean_i [argmax agree] · KL(p_T ‖ p_S) (hand-computed)', () => {
    const t = [[2, 0], [0, 1]];
    const s = [[1, 0], [1, 0]]; // sample 0 agrees (class 0), sample 1 disagrees
    const v = tf.tidy(() => adversarialLoss(tf.tensor2d(t), tf.tensor2d(s)).dataSync()[0] as number);
    const sm = (r: number[]): number[] => {
      const e = r.map(Math.exp);
      const z = e.reduce((a, b) => a + b, 0);
      return e.map((x) => x / z);
    };
    const p = sm(t[0] as number[]);
    const q = sm(s[0] as number[]);
    const kl0 = p.reduce((acc, pi, i) => acc + pi * Math.log(pi / (q[i] as number)), 0);
    expect(v).toBeCloseTo(-kl0 / 2, 6);
    expect(v).toBeLessThan(0);
  });

  it('is zero when the student equals the teacher, and rejects mismatched shapes', () => {
    const v = tf.tidy(() => adversarialLoss(tf.tensor2d([[1, 2, 3]]), tf.tensor2d([[1, 2, 3]])).dataSync()[0] as number);
    expect(Math.abs(v)).toBeLessThan(1e-6);
    expect(() => tf.tidy(() => adversarialLoss(tf.zeros([2, 3]) as tf.Tensor2D, tf.zeros([2, 4]) as tf.Tensor2D))).toThrow(/same shape/);
  });
});

/** Float64 reference of the CMI contrastive loss (plain JS). */
function referenceContrastive(
  head: { w1: number[][]; b1: number[]; w2: number[][]; b2: number[] },
  local: number[][],
  global: number[][],
  nCurrent: number,
  tau: number,
): number {
  const proj = (r: number[]): number[] => {
    const h = head.w1.map((row, j) => Math.max(0, row.reduce((a, w, i) => a + w * (r[i] as number), head.b1[j] as number)));
    const o = head.w2.map((row, j) => row.reduce((a, w, i) => a + w * (h[i] as number), head.b2[j] as number));
    const n = Math.max(Math.sqrt(o.reduce((a, v) => a + v * v, 0)), 1e-12);
    return o.map((v) => v / n);
  };
  const pl = local.map(proj);
  const pg = global.map(proj);
  const ce = pl.map((a, i) => {
    const logits = pg.map((b) => a.reduce((s, v, k) => s + v * (b[k] as number), 0) / tau);
    const mx = Math.max(...logits);
    const lse = mx + Math.log(logits.reduce((s, v) => s + Math.exp(v - mx), 0));
    return lse - (logits[i] as number);
  });
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return nCurrent < ce.length ? mean(ce.slice(0, nCurrent)) + mean(ce.slice(nCurrent)) : mean(ce);
}

describe('cmiContrastiveLoss', () => {
  const fx = readFixture<CrFixture>(import.meta.url, 'cmi-contrastive.json');
  const d = (fx.local[0] as number[]).length;
  const hidden = fx.b1.length;
  const p = fx.b2.length;
  const makeHead = (): ContrastiveHead => {
    const head = new ContrastiveHead({ inputDim: d, hiddenDim: hidden, outputDim: p, rng: Rng.fromSeed(0) });
    tf.tidy(() =>
      head.assign({
        w1: tf.transpose(tf.tensor2d(fx.w1_out_in)),
        b1: tf.tensor1d(fx.b1),
        w2: tf.transpose(tf.tensor2d(fx.w2_out_in)),
        b2: tf.tensor1d(fx.b2),
      }),
    );
    return head;
  };

  it('matches the PyTorch fixture (empty bank): loss, gradient w.r.t. local, zero gradient w.r.t. global', () => {
    const head = makeHead();
    const local = tf.tensor2d(fx.local);
    const global = tf.tensor2d(fx.global);
    const f = (l: tf.Tensor, g: tf.Tensor): tf.Scalar =>
      cmiContrastiveLoss(head, { local: l as tf.Tensor2D, global: g as tf.Tensor2D }, fx.tau);
    const v = tf.tidy(() => f(local, global).dataSync()[0] as number);
    expectClose([v], [fx.loss], { rtol: 1e-5, atol: 0, label: 'contrastive loss' });
    const [gl, gg] = tf.grads(f)([local, global]);
    expectClose(gl!.dataSync(), flat(fx.grad_local), { rtol: 1e-3, atol: 1e-6, label: 'dL/dlocal' });
    expect(Math.max(...Array.from(gg!.dataSync(), Math.abs))).toBe(0);
    tf.dispose([local, global, gl!, gg!]);
    head.dispose();
  });

  it('with cached negatives: mean(ce current) + mean(ce cached), hand-computed in float64', () => {
    const head = makeHead();
    const rng = Rng.fromSeed(1);
    const rows = (n: number): number[][] => Array.from({ length: n }, () => Array.from({ length: d }, () => rng.normal()));
    const [l, g, cl, cg] = [rows(3), rows(3), rows(4), rows(4)];
    const v = tf.tidy(
      () =>
        cmiContrastiveLoss(
          head,
          { local: tf.tensor2d(l), global: tf.tensor2d(g), cachedLocal: tf.tensor2d(cl), cachedGlobal: tf.tensor2d(cg) },
          fx.tau,
        ).dataSync()[0] as number,
    );
    const ref = referenceContrastive(
      { w1: fx.w1_out_in, b1: fx.b1, w2: fx.w2_out_in, b2: fx.b2 },
      [...l, ...cl],
      [...g, ...cg],
      3,
      fx.tau,
    );
    expectClose([v], [ref], { rtol: 1e-5, atol: 0, label: 'contrastive loss with a feature bank' });
    head.dispose();
  });

  it('head output rows are unit-norm and the loss leaks no tensors', async () => {
    const head = new ContrastiveHead({ inputDim: 5, hiddenDim: 7, outputDim: 4, rng: Rng.fromSeed(2) });
    const x = tf.randomNormal([6, 5], 0, 1, 'float32', 1) as tf.Tensor2D;
    const norms = tf.tidy(() => tf.norm(head.apply(x), 2, 1).dataSync());
    expectClose(norms, [1, 1, 1, 1, 1, 1], { rtol: 1e-5, atol: 1e-5 });
    await expectNoTensorLeak(() => tf.tidy(() => cmiContrastiveLoss(head, { local: x, global: x }, 0.5).dataSync()));
    expect(head.parameterCount()).toBe(5 * 7 + 7 + 7 * 4 + 4);
    x.dispose();
    head.dispose();
  });
});

describe('adversarialLoss gradient', () => {
  it('is differentiable w.r.t. both logits (the agreement mask is a constant)', () => {
    const t = tf.tensor2d([[2, 0, 1], [0, 1, 3]]);
    const s = tf.tensor2d([[1, 0, 0.5], [1, 0, 2]]);
    const [gt, gs] = tf.grads((a: tf.Tensor, b: tf.Tensor) => adversarialLoss(a as tf.Tensor2D, b as tf.Tensor2D))([t, s]);
    // d/ds of −(1/N) Σ w_i KL(p‖q) = (1/N) w_i (p_i − q_i)
    const p = tf.softmax(t);
    const q = tf.softmax(s);
    const expected = tf.div(tf.sub(p, q), 2).dataSync();
    expectClose(gs!.dataSync(), expected, { atol: 1e-6 });
    expect(Math.max(...Array.from(gt!.dataSync(), Math.abs))).toBeGreaterThan(0);
    tf.dispose([t, s, gt!, gs!, p, q]);
  });
});

describe('instanceMeanFeatures', () => {
  it('concatenates per-layer spatial means and explains a missing spatialMean', () => {
    const out = tf.tidy(() => {
      const tap = (name: string, c: number, sm?: number[][]): BatchNormTap => ({
        name,
        mean: tf.zeros([c]) as tf.Tensor1D,
        variance: tf.ones([c]) as tf.Tensor1D,
        runningMean: tf.zeros([c]) as tf.Tensor1D,
        runningVar: tf.ones([c]) as tf.Tensor1D,
        ...(sm ? { spatialMean: tf.tensor2d(sm) } : {}),
      });
      const f = instanceMeanFeatures([tap('a', 1, [[1], [2]]), tap('b', 2, [[3, 4], [5, 6]])]);
      expect(() => instanceMeanFeatures([tap('c', 1)])).toThrow(/spatialMean/);
      return Array.from(f.dataSync());
    });
    expect(out).toEqual([1, 3, 4, 2, 5, 6]);
  });
});
