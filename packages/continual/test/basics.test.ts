import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { Rng, adam } from '@promptkd/core';
import { expectClose } from '@promptkd/testing';
import {
  LinearHead,
  codaCosineLr,
  epochBatches,
  finalAverageAccuracy,
  forgettingAsCode,
  forgettingStandard,
  maskedCrossEntropy,
  summarize,
} from '../src/index.js';

describe('masked cross-entropy', () => {
  it('equals CE with past logits set to −∞ and gives past head rows exactly zero gradient', () => {
    const head = new LinearHead(4, 6, Rng.fromSeed(1));
    const h = tf.tensor2d([
      [0.1, -0.3, 0.5, 1],
      [1, 0.2, -0.4, 0.3],
      [-0.5, 0.5, 0.25, -1],
    ]);
    const y = tf.tensor1d([2, 3, 2], 'int32');
    const lo = 2;
    const hi = 4;
    const value = tf.tidy(() => maskedCrossEntropy(head.apply(h), y, lo, hi).dataSync()[0] as number);
    // host: −∞ mask on [0, lo), softmax over [0, hi)
    const z = tf.tidy(() => head.apply(h).arraySync());
    let expected = 0;
    z.forEach((row, n) => {
      const seen = row.slice(0, hi).map((v, c) => (c < lo ? -Infinity : v));
      const mx = Math.max(...seen);
      const lse = mx + Math.log(seen.reduce((s, v) => s + Math.exp(v - mx), 0));
      expected += lse - (seen[[2, 3, 2][n] as number] as number);
    });
    expectClose([value], [expected / 3]);
    const { grads } = tf.variableGrads(() => maskedCrossEntropy(head.apply(h), y, lo, hi), head.trainableVariables());
    const gw = (grads[head.weight.name] as tf.Tensor).arraySync() as number[][];
    const gb = (grads[head.bias.name] as tf.Tensor).arraySync() as number[];
    for (const row of gw) {
      expect(row.slice(0, lo).every((v) => v === 0)).toBe(true); // past classes: exactly 0
      expect(row.slice(hi).every((v) => v === 0)).toBe(true); // future classes unused
      expect(row.slice(lo, hi).some((v) => v !== 0)).toBe(true);
    }
    expect(gb.slice(0, lo)).toEqual([0, 0]);
    expect(() => maskedCrossEntropy(tf.zeros([1, 3]) as tf.Tensor2D, tf.tensor1d([0], 'int32'), 2, 4)).toThrow(/lo < hi/);
    tf.dispose([h, y, ...Object.values(grads)]);
    head.dispose();
  });
});

describe('metrics', () => {
  // a[i][j]: accuracy on task j after learning task i
  const a = [[0.9], [0.6, 0.8], [0.5, 0.7, 0.95]];
  it('final average accuracy', () => {
    expect(finalAverageAccuracy(a)).toBeCloseTo((0.5 + 0.7 + 0.95) / 3, 12);
  });
  it('forgetting as the code computes it: (1/N)·Σ_i (a_ii − a_Ni)', () => {
    expect(forgettingAsCode(a)).toBeCloseTo((0.9 - 0.5 + (0.8 - 0.7) + 0) / 3, 12);
  });
  it('standard forgetting: max over earlier rows, ÷ (N−1)', () => {
    const b = [[0.6], [0.9, 0.8], [0.5, 0.7, 0.95]]; // task 0 improved after task 1: max is 0.9
    expect(forgettingStandard(b)).toBeCloseTo((0.9 - 0.5 + (0.8 - 0.7)) / 2, 12);
    expect(forgettingAsCode(b)).toBeCloseTo((0.6 - 0.5 + 0.1) / 3, 12);
    expect(forgettingStandard([[0.7]])).toBe(0);
    expect(summarize(a).averageAccuracyPerTask).toEqual([0.9, 0.7, (0.5 + 0.7 + 0.95) / 3]);
    expect(() => finalAverageAccuracy([])).toThrow(/empty/);
  });
});

describe('optimisation', () => {
  it("CODA's cosine schedule: lr0 at e=0, lr0·cos(99π/200) at the last epoch", () => {
    expect(codaCosineLr(1e-3, 0, 20)).toBe(1e-3);
    expect(codaCosineLr(1e-3, 19, 20)).toBeCloseTo(1e-3 * Math.cos((99 * Math.PI) / 200), 12);
    expect(codaCosineLr(1e-3, 19, 20) / 1e-3).toBeCloseTo(0.0157, 3);
    expect(codaCosineLr(1e-3, 5, 20)).toBeCloseTo(1e-3 * Math.cos((99 * Math.PI * 5) / (200 * 19)), 12);
    expect(codaCosineLr(2e-3, 0, 1)).toBe(2e-3);
  });

  it("the trainer's Adam (core's fused adam, ε = 1e-8) follows the PyTorch update rule", () => {
    const v = tf.variable(tf.tensor1d([1, -2]));
    const before = tf.memory().numTensors;
    const optimizer = adam(0.1, 0.9, 0.999, 1e-8);
    const g1 = tf.tensor1d([0.5, -1]);
    const g2 = tf.tensor1d([0.1, 2]);
    optimizer.applyGradients([{ name: v.name, tensor: g1 }]);
    optimizer.applyGradients([{ name: v.name, tensor: g2 }]);
    // host reference
    const theta = [1, -2];
    const m = [0, 0];
    const s = [0, 0];
    [[0.5, -1], [0.1, 2]].forEach((g, t) => {
      for (let i = 0; i < 2; i++) {
        m[i] = 0.9 * (m[i] as number) + 0.1 * (g[i] as number);
        s[i] = 0.999 * (s[i] as number) + 0.001 * (g[i] as number) ** 2;
        const mh = (m[i] as number) / (1 - 0.9 ** (t + 1));
        const vh = (s[i] as number) / (1 - 0.999 ** (t + 1));
        theta[i] = (theta[i] as number) - (0.1 * mh) / (Math.sqrt(vh) + 1e-8);
      }
    });
    expectClose(v.dataSync(), theta, { rtol: 1e-5 });
    expect(optimizer.iterations).toBe(2);
    // dispose frees every slot it created (m, v and tfjs's β-power variables)
    optimizer.dispose();
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([v, g1, g2]);
    expect(tf.memory().numTensors).toBe(before - 1);
  });

  it('batches drop the last incomplete batch and are seed-deterministic', () => {
    const a = epochBatches(10, 4, Rng.fromSeed(3));
    expect(a.map((b) => b.length)).toEqual([4, 4]);
    expect(epochBatches(10, 4, Rng.fromSeed(3))).toEqual(a);
    expect(epochBatches(10, 4, Rng.fromSeed(3), false).map((b) => b.length)).toEqual([4, 4, 2]);
    expect(epochBatches(3, 4, Rng.fromSeed(3)).map((b) => b.length)).toEqual([3]);
  });
});
