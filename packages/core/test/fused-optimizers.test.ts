import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { useBackend } from '@promptkd/testing';
import { ADAM_UPDATE_KERNEL, MOMENTUM_UPDATE_KERNEL, adam, adamUpdate, hasFusedKernels, momentum, momentumUpdate } from '../src/index.js';

/** Runs `steps` minimisations of Σ w·x² + Σ x³/3 (non-trivial gradients) with `opt` and returns the variables' values. */
function train(opt: tf.Optimizer, steps: number, seed: number): Float32Array[] {
  const vars = [tf.variable(tf.randomNormal([7, 5], 0, 1, 'float32', seed)), tf.variable(tf.randomNormal([5], 0, 1, 'float32', seed + 1))];
  const w = tf.randomNormal([7, 5], 0, 1, 'float32', seed + 2);
  for (let s = 0; s < steps; s++) {
    opt.minimize(() => tf.add(tf.sum(tf.mul(w, tf.square(vars[0]!))), tf.sum(tf.div(tf.pow(vars[1]!, 3), 3))) as tf.Scalar, false, vars);
  }
  const out = vars.map((v) => v.dataSync() as Float32Array);
  tf.dispose([...vars, w]);
  return out;
}

function expectClose(a: Float32Array[], b: Float32Array[], tol: number): void {
  expect(a.length).toBe(b.length);
  a.forEach((arr, i) => arr.forEach((x, j) => expect(Math.abs(x - (b[i]![j] as number))).toBeLessThanOrEqual(tol * (1 + Math.abs(x)))));
}

describe('fused optimizer updates (composed ops where no fused kernel is registered)', () => {
  useBackend('cpu');

  it('uses the composition on a backend without the fused kernels', () => {
    expect(hasFusedKernels(ADAM_UPDATE_KERNEL)).toBe(false);
    expect(hasFusedKernels(MOMENTUM_UPDATE_KERNEL)).toBe(false);
  });

  it('adamUpdate: one step at hand-derived values', () => {
    // t = 1, α = 0.1, β = (0.9, 0.999), ε = 1e-8, m = v = 0: m′ = 0.1g, v′ = 0.001g², m̂ = g, v̂ = g², x′ = x − 0.1·sign(g)
    const [x, m, v] = adamUpdate(tf.tensor1d([1, -2, 0.5]), tf.tensor1d([0.3, -4, 2]), tf.zeros([3]), tf.zeros([3]), {
      stepSize: 0.1 / (1 - 0.9),
      beta1: 0.9,
      beta2: 0.999,
      sqrtC2: Math.sqrt(1 - 0.999),
      epsilon: 1e-8,
    });
    [0.9, -1.9, 0.4].forEach((e, i) => expect(x.dataSync()[i]).toBeCloseTo(e, 5));
    [0.03, -0.4, 0.2].forEach((e, i) => expect(m.dataSync()[i]).toBeCloseTo(e, 6));
    [0.00009, 0.016, 0.004].forEach((e, i) => expect(v.dataSync()[i]).toBeCloseTo(e, 7));
    tf.dispose([x, m, v]);
  });

  it('momentumUpdate: plain and Nesterov steps at hand-derived values', () => {
    // b = 1, g = 2, μ = 0.9, η = 0.1: b′ = 2.9; x′ = 1 − 0.29 = 0.71; Nesterov: x′ = 1 − 0.1·(2 + 2.61) = 0.539
    for (const [nesterov, want] of [[false, 0.71], [true, 0.539]] as const) {
      const [x, b] = momentumUpdate(tf.tensor1d([1]), tf.tensor1d([2]), tf.tensor1d([1]), { learningRate: 0.1, momentum: 0.9, nesterov });
      expect(x.dataSync()[0]).toBeCloseTo(want, 6);
      expect(b.dataSync()[0]).toBeCloseTo(2.9, 6);
      tf.dispose([x, b]);
    }
  });

  it('FusedAdamOptimizer follows tf.train.adam over 6 steps, with the same slot names', async () => {
    const ref = tf.train.adam(0.05, 0.8, 0.99, 1e-7);
    const fused = adam(0.05, 0.8, 0.99, 1e-7);
    expectClose(train(fused, 6, 3), train(ref, 6, 3), 2e-5);
    const [wf, wr] = [await fused.getWeights(), await ref.getWeights()];
    expect(wf.map((w) => w.name.replace(/^\d+\//, ''))).toEqual(wr.map((w) => w.name.replace(/^\d+\//, '')));
    expect(fused.iterations).toBe(6);
    fused.dispose();
    ref.dispose();
    tf.dispose([...wf.map((w) => w.tensor), ...wr.map((w) => w.tensor)]);
  });

  it('a fused Adam or momentum step leaves tf.memory().numTensors unchanged', () => {
    for (const opt of [adam(0.01), momentum(0.01, 0.9)]) {
      const v = tf.variable(tf.tensor2d([[1, 2], [3, 4]]));
      const step = (): void => void opt.minimize(() => tf.sum(tf.square(v)) as tf.Scalar, false, [v]);
      step(); // creates the slots
      const before = tf.memory().numTensors;
      for (let i = 0; i < 3; i++) step();
      expect(tf.memory().numTensors).toBe(before);
      opt.dispose();
      v.dispose();
    }
  });

  it('FusedAdamOptimizer resumes from tf.train.adam weights (setWeights) as tfjs would', async () => {
    const ref = tf.train.adam(0.05);
    const vars = [tf.variable(tf.tensor1d([1, -1, 2]), true, 'resume-a')];
    const loss = (): tf.Scalar => tf.sum(tf.square(tf.sub(vars[0]!, 0.5))) as tf.Scalar;
    for (let i = 0; i < 3; i++) ref.minimize(loss, false, vars);
    const saved = await ref.getWeights();
    const fused = adam(0.05);
    await fused.setWeights(saved);
    const start = vars[0]!.clone();
    fused.minimize(loss, false, vars);
    const fusedNext = vars[0]!.dataSync().slice();
    vars[0]!.assign(start);
    ref.minimize(loss, false, vars);
    Array.from(fusedNext).forEach((x, i) => expect(x).toBeCloseTo(vars[0]!.dataSync()[i] as number, 6));
    tf.dispose([start, ...vars, ...saved.map((w) => w.tensor)]);
    fused.dispose();
    ref.dispose();
  });

  it('FusedMomentumOptimizer follows tf.train.momentum (plain and Nesterov), learning-rate changes included', () => {
    for (const nesterov of [false, true]) {
      const ref = tf.train.momentum(0.02, 0.9, nesterov);
      const fused = momentum(0.02, 0.9, nesterov);
      const a = train(fused, 4, 11);
      const b = train(ref, 4, 11);
      expectClose(a, b, 2e-6);
      fused.setLearningRate(0.5);
      ref.setLearningRate(0.5);
      expectClose(train(fused, 2, 12), train(ref, 2, 12), 2e-6);
      fused.dispose();
      ref.dispose();
    }
  });

  it('a variable without a gradient is left alone', () => {
    const opt = adam(0.1);
    const a = tf.variable(tf.tensor1d([1, 2]));
    const b = tf.variable(tf.tensor1d([3, 4]));
    opt.minimize(() => tf.sum(tf.square(a)) as tf.Scalar, false, [a]);
    expect(Array.from(b.dataSync())).toEqual([3, 4]);
    expect(a.dataSync()[0]).toBeCloseTo(0.9, 5);
    tf.dispose([a, b]);
    opt.dispose();
  });
});
