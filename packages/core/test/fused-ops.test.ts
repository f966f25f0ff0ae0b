import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { useBackend } from '@promptkd/testing';
import { GELU_KERNEL, LAYER_NORM_KERNEL, ShapeError, batchNormTraining, channelMoments, featureStatistics, gelu, hasFusedKernels, layerNorm } from '../src/index.js';

describe('gelu and layerNorm (composed ops where no fused kernel is registered)', () => {
  // The cpu backend never has the fused kernels (the test setup may have registered them on wasm).
  useBackend('cpu');

  it('uses the composition on a backend without the fused kernels', () => {
    expect(hasFusedKernels(GELU_KERNEL)).toBe(false);
    expect(hasFusedKernels(LAYER_NORM_KERNEL)).toBe(false);
  });

  it('channelMoments: mean and biased variance per channel over every other axis, and their gradients, by hand', () => {
    // channel 0: 1, 3, 5, 7 → μ 4, σ² 5; channel 1: 2, 2, 2, 6 → μ 3, σ² 3
    const x = tf.tensor3d([[[1, 2], [3, 2]], [[5, 2], [7, 6]]]);
    const { mean, variance } = channelMoments(x);
    expect(Array.from(mean.dataSync())).toEqual([4, 3]);
    expect(Array.from(variance.dataSync())).toEqual([5, 3]);
    // d(Σ σ²)/dx = 2(x − μ)/R with R = 4: channel 0 → −1.5, −0.5, 0.5, 1.5; d(Σ μ)/dx = 1/R
    const dv = Array.from(tf.grad((t: tf.Tensor) => tf.sum(channelMoments(t).variance))(x).dataSync());
    [-1.5, -0.5, -0.5, -0.5, 0.5, -0.5, 1.5, 1.5].forEach((e, i) => expect(dv[i]).toBeCloseTo(e, 5));
    const dm = Array.from(tf.grad((t: tf.Tensor) => tf.sum(channelMoments(t).mean))(x).dataSync());
    dm.forEach((v) => expect(v).toBeCloseTo(0.25, 6));
    expect(() => channelMoments(tf.tensor1d([1, 2]))).toThrow(ShapeError);
  });

  it('featureStatistics: batch moments per channel, spatial means per sample, and the gradient through all three, by hand', () => {
    // [N=2, H=1, W=2, C=2]; channel 0: sample 0 → 1, 3; sample 1 → 5, 7 (μ 4, σ² 5; per sample 2 and 6)
    const x = tf.tensor4d([1, 2, 3, 2, 5, 2, 7, 6], [2, 1, 2, 2]);
    const { mean, variance, instanceMean } = featureStatistics(x);
    expect(Array.from(mean.dataSync())).toEqual([4, 3]);
    expect(Array.from(variance.dataSync())).toEqual([5, 3]);
    expect(Array.from(instanceMean.dataSync())).toEqual([2, 2, 6, 4]);
    // d(Σ σ² + Σ w·inst)/dx = 2(x − μ)/4 + w[n, c]/2 with w = [[1, 0], [0, 2]]
    const w = tf.tensor2d([[1, 0], [0, 2]]);
    const g = Array.from(tf.grad((t: tf.Tensor) => {
      const s = featureStatistics(t as tf.Tensor4D);
      return tf.add(tf.sum(s.variance), tf.sum(tf.mul(s.instanceMean, w)));
    })(x).dataSync());
    [-1.5 + 0.5, -0.5, -0.5 + 0.5, -0.5, 0.5, -0.5 + 1, 1.5, 1.5 + 1].forEach((e, i) => expect(g[i]).toBeCloseTo(e, 5));
    expect(() => featureStatistics(tf.zeros([2, 3, 4]) as unknown as tf.Tensor4D)).toThrow(ShapeError);
  });

  it('gelu: x·Φ(x) at hand-derived points', () => {
    // Φ(1) = 0.8413447, Φ(−1) = 0.1586553, Φ(2) = 0.9772499
    const y = Array.from(gelu(tf.tensor1d([0, 1, -1, 2])).dataSync());
    [0, 0.8413447, -0.1586553, 1.9544997].forEach((e, i) => expect(y[i]).toBeCloseTo(e, 5));
  });

  it('layerNorm: standardises each row with the biased variance, then γ, β', () => {
    // row [1, 2, 3]: μ = 2, σ² = 2/3 → x̂ = ±1.2247449 (ε = 1e-12); row [4, 4, 4]: x̂ = 0
    const y = layerNorm(tf.tensor2d([[1, 2, 3], [4, 4, 4]]), tf.tensor1d([1, 2, 3]), tf.tensor1d([0, 1, -1]), 1e-12).arraySync() as number[][];
    [-1.2247449, 1, 2.6742346].forEach((e, i) => expect(y[0]?.[i]).toBeCloseTo(e, 5));
    expect(y[1]).toEqual([0, 1, -1]);
  });

  it('layerNorm rejects γ of the wrong size with a ShapeError', () => {
    expect(() => layerNorm(tf.zeros([2, 3]), tf.ones([4]), tf.zeros([3]))).toThrow(ShapeError);
  });

  it('batchNormTraining: batch mean and biased variance over all axes but the last, then γ, β', () => {
    // channel 0: [1, 3, 5, 7] → μ 4, σ² 5; channel 1: [2, 2, 2, 2] → μ 2, σ² 0
    const x = tf.tensor4d([1, 2, 3, 2, 5, 2, 7, 2], [2, 1, 2, 2]);
    const { y, mean, variance } = batchNormTraining(x, tf.tensor1d([2, 1]), tf.tensor1d([0, 0.5]), 1e-5);
    expect(Array.from(mean.dataSync())).toEqual([4, 2]);
    expect(Array.from(variance.dataSync())).toEqual([5, 0]);
    const r = 2 / Math.sqrt(5 + 1e-5);
    const want = [-3 * r, 0.5, -r, 0.5, r, 0.5, 3 * r, 0.5];
    Array.from(y.dataSync()).forEach((v, i) => expect(v).toBeCloseTo(want[i] as number, 5));
    expect(() => batchNormTraining(tf.zeros([4]), tf.ones([4]), tf.zeros([4]))).toThrow(ShapeError);
  });
});
