import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  ADAM_UPDATE_KERNEL,
  BATCH_NORM_TRAIN_GRAD_KERNEL,
  BATCH_NORM_TRAIN_KERNEL,
  CHANNEL_AFFINE_GRAD_KERNEL,
  CHANNEL_AFFINE_KERNEL,
  CHANNEL_MOMENTS_GRAD_KERNEL,
  CHANNEL_MOMENTS_KERNEL,
  FEATURE_STATISTICS_KERNEL,
  GELU_GRAD_KERNEL,
  GELU_KERNEL,
  LAYER_NORM_GRAD_KERNEL,
  LAYER_NORM_KERNEL,
  MOMENTUM_UPDATE_KERNEL,
  batchNormTraining,
  channelAffine,
  channelMoments,
  featureStatistics,
  gelu,
  hasFusedKernels,
  layerNorm,
} from '@promptkd/core';
import { registerNativeKernels, unregisterNativeKernels } from '@promptkd/tfjs-env';
import { expectMatches, onCpu, rand } from './kernel-helpers.js';
import { nativeBuilt, vals, withNativeKernels, type Vals } from './native-helpers.js';



/** Value of Σ w·f(x, γ, β) and its gradients wrt x, γ, β on the current backend (fused on wasm, composed on cpu). */
function valueAndGrads(f: (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor, data: Float32Array[], shapes: number[][]): Vals[] {
  return tf.tidy(() => {
    const [x, g, b, w] = data.map((d, i) => tf.tensor(d, shapes[i]));
    const fn = (xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor): tf.Scalar => tf.sum(tf.mul(f(xx, gg, bb), w as tf.Tensor));
    const y = f(x as tf.Tensor, g as tf.Tensor, b as tf.Tensor);
    const grads = tf.grads(fn)([x as tf.Tensor, g as tf.Tensor, b as tf.Tensor]);
    return [vals(y), ...grads.map(vals)];
  });
}

/** Runs `run` here (it must leave no tensor behind) and on the cpu backend, and compares each named output. */
async function expectLikeCpu(run: () => Vals[], names: readonly string[], shape: readonly number[]): Promise<void> {
  const before = tf.memory().numTensors;
  const ours = run();
  expect(tf.memory().numTensors).toBe(before);
  const ref = await onCpu(run);
  names.forEach((what, i) => expectMatches(ours[i] as Vals, ref[i] as Vals, `${what} [${shape}]`));
}

describe.skipIf(!nativeBuilt)('fused GELU and layer norm (native) match the composed ops on the cpu backend', () => {
  const addon = withNativeKernels();

  it('registers the fused kernels with the native ones and removes them on unregister', () => {
    // Every fused kernel of @promptkd/core, forward and gradient: a missing one would silently fall back.
    const all = [
      GELU_KERNEL,
      GELU_GRAD_KERNEL,
      LAYER_NORM_KERNEL,
      LAYER_NORM_GRAD_KERNEL,
      BATCH_NORM_TRAIN_KERNEL,
      BATCH_NORM_TRAIN_GRAD_KERNEL,
      CHANNEL_MOMENTS_KERNEL,
      CHANNEL_MOMENTS_GRAD_KERNEL,
      CHANNEL_AFFINE_KERNEL,
      CHANNEL_AFFINE_GRAD_KERNEL,
      ADAM_UPDATE_KERNEL,
      MOMENTUM_UPDATE_KERNEL,
    ];
    for (const k of all) expect(hasFusedKernels(k), k).toBe(true);
    unregisterNativeKernels();
    expect(hasFusedKernels(GELU_KERNEL)).toBe(false);
    expect(hasFusedKernels(LAYER_NORM_KERNEL)).toBe(false);
    registerNativeKernels(addon());
    expect(hasFusedKernels(GELU_KERNEL, LAYER_NORM_KERNEL)).toBe(true);
  });

  // Large enough to take the threaded paths (≥ 2^18 elements) and several layer-norm row blocks.
  for (const shape of [[3, 5], [2, 7, 16], [2080, 192]]) {
    it(`values and gradients (x, γ, β) of GELU and layer norm, shape [${shape}]`, async () => {
      const c = shape[shape.length - 1] as number;
      const inputs = [rand(shape), tf.add(rand([c]), 1), rand([c]), rand(shape)];
      const data = inputs.map((t) => t.dataSync().slice() as Float32Array);
      const shapes = [shape, [c], [c], shape];
      tf.dispose(inputs);
      const cases: Array<[string, (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor) => tf.Tensor]> = [
        ['gelu', (x, g, b) => tf.add(tf.mul(gelu(x), g), b)],
        ['layerNorm', (x, g, b) => layerNorm(x, g, b, 1e-6)],
        ['layerNorm∘gelu', (x, g, b) => gelu(layerNorm(x, g, b))],
      ];
      for (const [label, f] of cases) {
        const before = tf.memory().numTensors;
        const ours = valueAndGrads(f, data, shapes);
        expect(tf.memory().numTensors, `${label}: tensors left behind`).toBe(before);
        const ref = await onCpu(() => valueAndGrads(f, data, shapes));
        ['y', 'dx', 'dγ', 'dβ'].forEach((what, i) => expectMatches(ours[i] as Vals, ref[i] as Vals, `${label} ${what} [${shape}]`));
      }
    });
  }

  // [32, 16, 16, 32]: above the size from which the images are split over threads.
  for (const shape of [[3, 5], [2, 7, 16], [32, 16, 16, 32]]) {
    it(`channelAffine: values and gradients (x, scale, shift), scale per channel or per image, with and without ReLU, shape [${shape}]`, async () => {
      const n = shape[0] as number;
      const c = shape[shape.length - 1] as number;
      for (const paramShape of [[c], [n, c]]) {
        const inputs = [rand(shape), rand(paramShape), rand(paramShape), rand(shape)];
        const data = inputs.map((t) => t.dataSync().slice() as Float32Array);
        const shapes = [shape, paramShape, paramShape, shape];
        tf.dispose(inputs);
        for (const relu of [false, true]) {
          const label = `channelAffine scale [${paramShape}] relu ${relu}`;
          const f = (x: tf.Tensor, s: tf.Tensor, b: tf.Tensor): tf.Tensor => channelAffine(x, s, b, { relu });
          const before = tf.memory().numTensors;
          const ours = valueAndGrads(f, data, shapes);
          expect(tf.memory().numTensors, `${label}: tensors left behind`).toBe(before);
          const ref = await onCpu(() => valueAndGrads(f, data, shapes));
          ['y', 'dx', 'dscale', 'dshift'].forEach((what, i) => expectMatches(ours[i] as Vals, ref[i] as Vals, `${label} ${what} [${shape}]`));
        }
      }
    });
  }

  // [64, 16, 16, 32]: above the size from which the statistics are split over threads.
  for (const shape of [[3, 5], [2, 7, 16], [64, 16, 16, 32]]) {
    it(`channelMoments: values and the gradient through mean, variance or both, shape [${shape}]`, async () => {
      expect(hasFusedKernels(CHANNEL_MOMENTS_KERNEL)).toBe(true);
      const c = shape[shape.length - 1] as number;
      const inputs = [tf.add(tf.mul(rand(shape), 3), 1), rand([c]), rand([c])];
      const [xd, wm, wv] = inputs.map((t) => t.dataSync().slice() as Float32Array);
      tf.dispose(inputs);
      const run = (): Vals[] =>
        tf.tidy(() => {
          const x = tf.tensor(xd as Float32Array, shape);
          const [a, b] = [tf.tensor1d(wm as Float32Array), tf.tensor1d(wv as Float32Array)];
          const m = channelMoments(x);
          const out = [vals(m.mean), vals(m.variance)];
          const losses: Array<(t: tf.Tensor) => tf.Scalar> = [
            (t) => tf.sum(tf.mul(channelMoments(t).mean, a)),
            (t) => tf.sum(tf.mul(channelMoments(t).variance, b)),
            (t) => tf.add(tf.sum(tf.mul(channelMoments(t).mean, a)), tf.norm(tf.sub(channelMoments(t).variance, b))) as tf.Scalar,
          ];
          for (const f of losses) out.push(vals(tf.grad(f)(x)));
          return out;
        });
      await expectLikeCpu(run, ['mean', 'variance', 'd/dx via mean', 'd/dx via variance', 'd/dx via both'], shape);
    });
  }

  // [32, 16, 16, 32]: above the size from which the samples are split over threads; 300 channels: two blocks of the
  // gradient's per-sample shift.
  for (const shape of [[3, 2, 5, 4], [2, 3, 1, 300], [32, 16, 16, 32]]) {
    it(`featureStatistics: values and the gradient through each output and all three, shape [${shape}]`, async () => {
      expect(hasFusedKernels(FEATURE_STATISTICS_KERNEL)).toBe(true);
      const [n, , , c] = shape as [number, number, number, number];
      const inputs = [tf.add(tf.mul(rand(shape), 3), 1), rand([c]), rand([c]), rand([n, c])];
      const [xd, wm, wv, wi] = inputs.map((t) => t.dataSync().slice() as Float32Array);
      tf.dispose(inputs);
      const run = (): Vals[] =>
        tf.tidy(() => {
          const x = tf.tensor4d(xd as Float32Array, shape as [number, number, number, number]);
          const [a, b, d] = [tf.tensor1d(wm as Float32Array), tf.tensor1d(wv as Float32Array), tf.tensor2d(wi as Float32Array, [n, c])];
          const s = featureStatistics(x);
          const out = [vals(s.mean), vals(s.variance), vals(s.instanceMean)];
          const losses: Array<(t: tf.Tensor) => tf.Scalar> = [
            (t) => tf.sum(tf.mul(featureStatistics(t as tf.Tensor4D).mean, a)),
            (t) => tf.sum(tf.mul(featureStatistics(t as tf.Tensor4D).variance, b)),
            (t) => tf.sum(tf.mul(featureStatistics(t as tf.Tensor4D).instanceMean, d)),
            (t) => {
              const f = featureStatistics(t as tf.Tensor4D);
              return tf.addN([tf.sum(tf.mul(f.mean, a)), tf.norm(tf.sub(f.variance, b)), tf.sum(tf.square(tf.sub(f.instanceMean, d)))]) as tf.Scalar;
            },
          ];
          for (const f of losses) out.push(vals(tf.grad(f)(x)));
          return out;
        });
      await expectLikeCpu(run, ['mean', 'variance', 'instance mean', 'd/dx via mean', 'd/dx via variance', 'd/dx via instance mean', 'd/dx via all three'], shape);
    });
  }

  it('featureStatistics: the same bits for 1 and 2 threads', () => {
    const x = tf.add(rand([32, 16, 16, 32]), 0.5);
    const w = rand([32, 32]);
    const run = (): Float32Array[] =>
      tf.tidy(() => {
        const s = featureStatistics(x as tf.Tensor4D);
        const dx = tf.grad((t: tf.Tensor) => {
          const f = featureStatistics(t as tf.Tensor4D);
          return tf.add(tf.sum(f.variance), tf.sum(tf.mul(f.instanceMean, w)));
        })(x as tf.Tensor4D);
        return [s.mean, s.variance, s.instanceMean, dx].map((t) => t.dataSync() as Float32Array);
      });
    addon().setThreads(1);
    const one = run();
    addon().setThreads(2);
    const two = run();
    one.forEach((a, i) => expect(Buffer.from((two[i] as Float32Array).buffer).equals(Buffer.from(a.buffer)), `output ${i}`).toBe(true));
    tf.dispose([x, w]);
  });

  it('GELU keeps NaN and saturates at ±∞ like the composition', async () => {
    const x = [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY, 0, -0.5, 6];
    const ours = Array.from(gelu(tf.tensor(x)).dataSync());
    const ref = await onCpu(() => Array.from(gelu(tf.tensor(x)).dataSync()));
    expect(Number.isNaN(ours[0])).toBe(true);
    expect(ours[1]).toBe(Number.POSITIVE_INFINITY);
    expect(ours.slice(3)).toEqual(ref.slice(3).map((v, i) => expect.closeTo(v, 6 - (i === 2 ? 1 : 0))));
  });

  it('gradients are deterministic: the same bits for 1 and 2 threads', () => {
    const x = rand([2080, 192]);
    const g = rand([192]);
    const b = rand([192]);
    const grads = (): Float32Array[] => tf.tidy(() => tf.grads((xx: tf.Tensor, gg: tf.Tensor, bb: tf.Tensor) => tf.sum(gelu(layerNorm(xx, gg, bb))))([x, g, b]).map((t) => t.dataSync() as Float32Array));
    addon().setThreads(1);
    const one = grads();
    addon().setThreads(2);
    const two = grads();
    one.forEach((a, i) => expect(Buffer.from((two[i] as Float32Array).buffer).equals(Buffer.from(a.buffer)), `gradient ${i}`).toBe(true));
    tf.dispose([x, g, b]);
  });

  it('layerNorm rejects γ/β that do not match the last axis', () => {
    const x = rand([4, 6]);
    expect(() => layerNorm(x, tf.ones([5]), tf.zeros([6]))).toThrow(/gamma and beta must have the 6 entries/);
    x.dispose();
  });

  for (const shape of [[4, 5, 6, 3], [32, 16, 16, 64]]) {
    it(`training-mode batch norm: y, batch statistics and gradients (x, γ, β), shape [${shape}]`, async () => {
      expect(hasFusedKernels(BATCH_NORM_TRAIN_KERNEL)).toBe(true);
      const c = shape[shape.length - 1] as number;
      const inputs = [tf.add(tf.mul(rand(shape), 3), 1), tf.add(rand([c]), 1), rand([c]), rand(shape)];
      const data = inputs.map((t) => t.dataSync().slice() as Float32Array);
      const shapes = [shape, [c], [c], shape];
      tf.dispose(inputs);
      const f = (x: tf.Tensor, g: tf.Tensor, b: tf.Tensor): tf.Tensor => batchNormTraining(x, g, b).y;
      const stats = (): Vals[] =>
        tf.tidy(() => {
          const r = batchNormTraining(tf.tensor(data[0] as Float32Array, shape), tf.tensor(data[1] as Float32Array), tf.tensor(data[2] as Float32Array));
          return [vals(r.mean), vals(r.variance)];
        });
      const before = tf.memory().numTensors;
      const ours = [...valueAndGrads(f, data, shapes), ...stats()];
      expect(tf.memory().numTensors).toBe(before);
      const ref = await onCpu(() => [...valueAndGrads(f, data, shapes), ...stats()]);
      ['y', 'dx', 'dγ', 'dβ', 'mean', 'variance'].forEach((what, i) => expectMatches(ours[i] as Vals, ref[i] as Vals, `batch norm ${what} [${shape}]`));
    });
  }
});
