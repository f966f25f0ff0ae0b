import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { GELU_KERNEL, LAYER_NORM_KERNEL, ShapeError, gelu, hasFusedKernels, layerNorm } from '../src/index.js';

describe('gelu and layerNorm (composed ops where no fused kernel is registered)', () => {
  it('uses the composition on a backend without the fused kernels', () => {
    expect(hasFusedKernels(GELU_KERNEL)).toBe(false);
    expect(hasFusedKernels(LAYER_NORM_KERNEL)).toBe(false);
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
});
