import * as tf from '@tensorflow/tfjs';
import { ConfigError, type Rng } from '@promptkd/core';

/**
 * How a parameter is laid out here versus in PyTorch:
 * - `conv`: HWIO here, OIHW in PyTorch (transpose [2,3,1,0] / [3,2,0,1]);
 * - `linear`: [in, out] here, [out, in] in PyTorch;
 * - `plain`: identical (biases, norms, tokens, position embeddings, BN buffers).
 */
export type ParamLayout = 'conv' | 'linear' | 'plain';

interface ParamEntry {
  readonly variable: tf.Variable;
  readonly layout: ParamLayout;
  /** Buffers (BN running statistics) are never trainable. */
  readonly buffer: boolean;
}

/**
 * A flat, ordered map of named `tf.Variable`s whose names are PyTorch state-dict names.
 * Models own one store; variables are created unnamed in tfjs (tfjs variable names are global),
 * the PyTorch name lives in this map.
 */
export class ParamStore {
  private readonly entries = new Map<string, ParamEntry>();
  private trainable = true;

  /** Adds a parameter (trainable unless frozen) initialised with `value` (the store takes ownership). */
  add(name: string, value: tf.Tensor, layout: ParamLayout = 'plain'): tf.Variable {
    return this.put(name, value, layout, false);
  }

  /** Adds a non-trainable buffer (e.g. `running_mean`). */
  addBuffer(name: string, value: tf.Tensor): tf.Variable {
    return this.put(name, value, 'plain', true);
  }

  private put(name: string, value: tf.Tensor, layout: ParamLayout, buffer: boolean): tf.Variable {
    if (this.entries.has(name)) throw new ConfigError(`Duplicate parameter name '${name}'.`, { field: name });
    const variable = tf.variable(value, !buffer && this.trainable);
    value.dispose();
    this.entries.set(name, { variable, layout, buffer });
    return variable;
  }

  /** The variable named `name`. */
  get(name: string): tf.Variable {
    const e = this.entries.get(name);
    if (!e) throw new ConfigError(`No parameter named '${name}'.`, { field: name });
    return e.variable;
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  layout(name: string): ParamLayout {
    return this.entries.get(name)?.layout ?? 'plain';
  }

  isBuffer(name: string): boolean {
    return this.entries.get(name)?.buffer ?? false;
  }

  /** All parameters and buffers, in creation (= PyTorch registration) order. */
  named(): Map<string, tf.Variable> {
    return new Map([...this.entries].map(([k, e]) => [k, e.variable]));
  }

  /** Trainable parameters (none when frozen; never buffers). */
  trainableVariables(): tf.Variable[] {
    if (!this.trainable) return [];
    return [...this.entries.values()].filter((e) => !e.buffer).map((e) => e.variable);
  }

  isTrainable(): boolean {
    return this.trainable;
  }

  /** Freezes/unfreezes all parameters; also sets `tf.Variable.trainable` so global `minimize()` skips them. */
  setTrainable(trainable: boolean): void {
    this.trainable = trainable;
    for (const e of this.entries.values()) if (!e.buffer) e.variable.trainable = trainable;
  }

  /** Number of scalar parameters (buffers excluded). */
  parameterCount(): number {
    let n = 0;
    for (const e of this.entries.values()) if (!e.buffer) n += e.variable.size;
    return n;
  }

  dispose(): void {
    for (const e of this.entries.values()) e.variable.dispose();
    this.entries.clear();
  }
}

/** mulberry32: a tiny, fast 32-bit PRNG (the init streams are seeded from the model {@link Rng}). */
function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function size(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function uniformValues(shape: number[], lo: number, hi: number, rng: Rng): tf.Tensor {
  const next = mulberry32(rng.seed());
  const out = new Float32Array(size(shape));
  const span = hi - lo;
  for (let i = 0; i < out.length; i++) out[i] = lo + span * next();
  return tf.tensor(out, shape, 'float32');
}

function normalValues(shape: number[], mean: number, std: number, rng: Rng, truncate: boolean): tf.Tensor {
  const next = mulberry32(rng.seed());
  const out = new Float32Array(size(shape));
  let i = 0;
  while (i < out.length) {
    // Box–Muller: two standard normals per pair of uniforms.
    const u = 1 - next();
    const v = next();
    const r = Math.sqrt(-2 * Math.log(u));
    for (const z of [r * Math.cos(2 * Math.PI * v), r * Math.sin(2 * Math.PI * v)]) {
      if (i >= out.length) break;
      if (truncate && Math.abs(z) > 2) continue;
      out[i++] = mean + std * z;
    }
  }
  return tf.tensor(out, shape, 'float32');
}

/**
 * Seeded initialisers. Each call draws one seed from the given {@link Rng} and fills the values with a fast
 * JS generator (tfjs' own random ops are ~20× slower for ResNet-50-sized models), so a model seed fixes
 * every weight on every backend.
 */
export const init = {
  /** U(-bound, bound). */
  uniform(shape: number[], bound: number, rng: Rng): tf.Tensor {
    return uniformValues(shape, -bound, bound, rng);
  },
  /** N(mean, std). */
  normal(shape: number[], std: number, rng: Rng, mean = 0): tf.Tensor {
    return normalValues(shape, mean, std, rng, false);
  },
  /** Normal truncated at ±2σ (timm uses `trunc_normal_(std=.02)`, truncating at ±2 absolute, i.e. practically never; we truncate at ±2σ). */
  truncatedNormal(shape: number[], std: number, rng: Rng): tf.Tensor {
    return normalValues(shape, 0, std, rng, true);
  },
  /**
   * PyTorch's default `nn.Conv2d`/`nn.Linear` weight init, `kaiming_uniform_(a=√5)`:
   * U(-1/√fan_in, 1/√fan_in). The matching bias init uses the same bound.
   */
  torchDefault(shape: number[], fanIn: number, rng: Rng): tf.Tensor {
    return uniformValues(shape, -1 / Math.sqrt(fanIn), 1 / Math.sqrt(fanIn), rng);
  },
  /** torchvision ResNet/VGG conv init: `kaiming_normal_(mode='fan_out', nonlinearity='relu')`, std = √(2/fan_out). */
  kaimingNormalFanOut(shape: number[], fanOut: number, rng: Rng): tf.Tensor {
    return normalValues(shape, 0, Math.sqrt(2 / fanOut), rng, false);
  },
};
