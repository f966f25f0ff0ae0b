import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@promptkd/core';

/**
 * Seeded U[0,1) tensor — the generic prompt initialisation of the reference code (`tensor_prompt`,
 * `nn.init.uniform_`). Drawn on the host from `rng` so the same seed gives the same prompts on
 * every backend (paired-by-seed comparisons).
 */
export function uniformTensor(shape: number[], rng: Rng, lo = 0, hi = 1): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = lo + (hi - lo) * rng.random();
  return tf.tensor(data, shape, 'float32');
}

/** Seeded standard-normal tensor (host RNG). */
export function normalTensor(shape: number[], rng: Rng): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.normal();
  return tf.tensor(data, shape, 'float32');
}

/** A trainable variable initialised U[0,1) (prompts, keys, KD token, KD prefixes). */
export function uniformVariable(shape: number[], rng: Rng, name?: string): tf.Variable {
  const t = uniformTensor(shape, rng);
  const v = tf.variable(t, true, name ? uniqueName(name) : undefined);
  t.dispose();
  return v;
}

let counter = 0;
/** tfjs variable names must be globally unique; suffix a counter to the readable name. */
export function uniqueName(name: string): string {
  counter += 1;
  return `${name}__${counter}`;
}
