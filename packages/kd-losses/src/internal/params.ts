import * as tf from '@tensorflow/tfjs';
import { ConfigError, Rng } from '@promptkd/core';

/** Parameters of an affine layer. `weight` is laid out `[in, out]` (the transpose of PyTorch's `[out, in]`). */
export interface LinearParams {
  readonly weight: tf.Tensor2D;
  readonly bias: tf.Tensor1D;
}

/** Parameters of a LayerNorm over the last axis: `weight` = γ, `bias` = β, both `[D]`. */
export interface LayerNormParams {
  readonly weight: tf.Tensor1D;
  readonly bias: tf.Tensor1D;
}

/** A seeded generator from either an explicit {@link Rng} or an integer seed (default 0). */
export function resolveRng(options: { rng?: Rng; seed?: number }): Rng {
  return options.rng ?? Rng.fromSeed(options.seed ?? 0);
}

export function expectDimension(value: number, field: string): void {
  if (!Number.isInteger(value) || value <= 0) {
    throw new ConfigError(`${field} must be a positive integer, got ${String(value)}.`, { field, value });
  }
}

/**
 * A trainable Linear(in → out) with PyTorch's default initialisation: weight and bias ~ U(−1/√in, 1/√in).
 * Variables get unique TensorFlow.js names; the stable names are the keys used by callers.
 */
export function createLinearVariables(rng: Rng, inDim: number, outDim: number): { weight: tf.Variable<tf.Rank.R2>; bias: tf.Variable<tf.Rank.R1> } {
  const bound = 1 / Math.sqrt(inDim);
  const uniform = (n: number): Float32Array => {
    const v = new Float32Array(n);
    for (let i = 0; i < n; i++) v[i] = (2 * rng.random() - 1) * bound;
    return v;
  };
  // Draw in PyTorch's [out, in] order so a seed gives the same numbers as a row-major [out, in] fill; store [in, out].
  const torchOrder = uniform(outDim * inDim);
  const weight = new Float32Array(outDim * inDim);
  for (let o = 0; o < outDim; o++) for (let i = 0; i < inDim; i++) weight[i * outDim + o] = torchOrder[o * inDim + i] as number;
  const bias = uniform(outDim);
  // tidy disposes the temporary initial tensors; variables are never disposed by tidy.
  return tf.tidy(() => ({
    weight: tf.variable(tf.tensor2d(weight, [inDim, outDim]), true),
    bias: tf.variable(tf.tensor1d(bias), true),
  }));
}

/** LayerNorm affine parameters with PyTorch's initialisation (γ = 1, β = 0). */
export function createLayerNormVariables(dim: number): { weight: tf.Variable<tf.Rank.R1>; bias: tf.Variable<tf.Rank.R1> } {
  return tf.tidy(() => ({ weight: tf.variable(tf.ones([dim]), true), bias: tf.variable(tf.zeros([dim]), true) }));
}
