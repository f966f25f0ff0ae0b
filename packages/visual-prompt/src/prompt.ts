import * as tf from '@tensorflow/tfjs';
import { CheckpointError, ConfigError, ShapeError, type PromptModule } from '@promptkd/core';

/** `[height, width, channels]` of one image (NHWC without the batch axis). */
export type ImageShape = readonly [number, number, number];

/** Effective parameters change the output (the paper's count); stored ones are all tensor entries. */
export interface ParameterCount {
  readonly effective: number;
  readonly stored: number;
}

/**
 * What the prompt looks like on its own, for rendering (Figure 3 of KiOP).
 * `values` is `[H, W, C]`; `mask` is `[H, W, 1]`, 1 where the prompt writes pixels.
 * `kind: 'absolute'` means the values are pixel values in [0,1] (e.g. sigmoid rings);
 * `'additive'` means they are offsets added to the image (shown contrast-normalised).
 */
export interface PromptPattern {
  readonly values: tf.Tensor3D;
  readonly mask: tf.Tensor3D;
  readonly kind: 'absolute' | 'additive';
}

/** One nested padding segment of a prompt (for artifacts and docs). */
export interface SegmentInfo {
  /** 1-based segment index (1 = Prompt Core). */
  readonly index: number;
  readonly inputSize: number;
  readonly outputSize: number;
  /** `[before, after]` zero padding per spatial side: l = ⌊(m−n+1)/2⌋, r = ⌊(m−n)/2⌋. */
  readonly pad: readonly [number, number];
  /** Names of this segment's tensors in {@link VisualPrompt.namedVariables}. */
  readonly tensors: readonly string[];
  readonly parameterCount: ParameterCount;
}

/**
 * A visual prompt: a learnable transformation of NHWC images (the PromptModule contract of `@promptkd/core`)
 * plus what artifacts, rendering and the tfjs-layers wrapper need.
 */
export interface VisualPrompt extends PromptModule {
  /** Registry key of the prompt type. */
  readonly key: string;
  /** JSON-serialisable config; `promptRegistry.get(key).create(config)` rebuilds the same prompt. */
  readonly config: Readonly<Record<string, unknown>>;
  /** Expected input image shape `[H, W, C]`. */
  readonly inputShape: ImageShape;
  /** Output image shape `[H, W, C]`. */
  readonly outputShape: ImageShape;
  /** Applies the prompt to NHWC images `[N, H, W, C]`. Returns a new tensor; `x` is not modified. */
  apply(x: tf.Tensor4D): tf.Tensor4D;
  /** Every parameter tensor by name (stable names, used as safetensors keys). */
  namedVariables(): ReadonlyMap<string, tf.Variable>;
  /** The variables an optimiser should update (empty when frozen). */
  trainableVariables(): tf.Variable[];
  /** Freezes (false) or unfreezes (true) every parameter. */
  setTrainable(trainable: boolean): void;
  parameterCount(): ParameterCount;
  /** The prompt alone, for rendering. The caller disposes the tensors. */
  pattern(): PromptPattern;
  /** Nested padding segments, for pad-type prompts (empty for overlays and patches). */
  segments(): readonly SegmentInfo[];
  /** Non-tensor state (e.g. RNG position of a random patch) as JSON; restored by {@link setState}. */
  getState(): Record<string, unknown> | undefined;
  setState(state: Record<string, unknown> | undefined): void;
  /**
   * Replaces the prompt's variables with the given ones (same names and shapes), disposing the old ones.
   * Used by {@link VisualPromptLayer} so the prompt computes with the layer's weights.
   */
  adoptVariables(variables: ReadonlyMap<string, tf.Variable>): void;
  dispose(): void;
}

/** A single specification of one variable a prompt needs. */
export interface VariableSpec {
  readonly name: string;
  readonly shape: readonly number[];
  /** Initial values, row-major, length = product of shape. */
  readonly init: Float32Array;
}

let promptCounter = 0;

/**
 * Base class that holds named variables and implements the bookkeeping of {@link VisualPrompt}.
 * Subclasses implement {@link BasePrompt.forward} (pure, given variables) and the descriptive methods.
 */
export abstract class BasePrompt implements VisualPrompt {
  abstract readonly key: string;
  abstract readonly config: Readonly<Record<string, unknown>>;
  abstract readonly inputShape: ImageShape;
  abstract readonly outputShape: ImageShape;

  private vars = new Map<string, tf.Variable>();
  private trainable = true;
  /** Unique prefix for variable names (tfjs variable names must be unique). */
  protected readonly uid = `vp${promptCounter++}`;

  /** Creates the variables from their specs. Call once from the subclass constructor. */
  protected initVariables(specs: readonly VariableSpec[]): void {
    for (const s of specs) {
      const initial = tf.tensor(s.init, [...s.shape], 'float32');
      const v = tf.variable(initial, true, `${this.uid}/${s.name}`);
      initial.dispose();
      this.vars.set(s.name, v);
    }
  }

  /** The variable called `name` (throws if the prompt has no such variable). */
  protected variable(name: string): tf.Variable {
    const v = this.vars.get(name);
    if (!v) throw new CheckpointError(`Prompt '${this.key}' has no variable '${name}'.`, { name });
    return v;
  }

  /** The prompt function on explicit variable values. Must not dispose its inputs. */
  protected abstract forward(x: tf.Tensor4D): tf.Tensor4D;

  abstract parameterCount(): ParameterCount;
  abstract pattern(): PromptPattern;

  segments(): readonly SegmentInfo[] {
    return [];
  }

  getState(): Record<string, unknown> | undefined {
    return undefined;
  }

  setState(_state: Record<string, unknown> | undefined): void {}

  apply(x: tf.Tensor4D): tf.Tensor4D {
    assertImageBatch(x, this.inputShape, this.key);
    return tf.tidy(() => this.forward(x));
  }

  namedVariables(): ReadonlyMap<string, tf.Variable> {
    return this.vars;
  }

  trainableVariables(): tf.Variable[] {
    return this.trainable ? [...this.vars.values()] : [];
  }

  setTrainable(trainable: boolean): void {
    this.trainable = trainable;
    for (const v of this.vars.values()) v.trainable = trainable;
  }

  adoptVariables(variables: ReadonlyMap<string, tf.Variable>): void {
    for (const [name, old] of this.vars) {
      const next = variables.get(name);
      if (!next) {
        throw new CheckpointError(`Prompt '${this.key}' needs variable '${name}', which was not provided.`, { name });
      }
      if (!sameShape(next.shape, old.shape)) {
        throw new CheckpointError(
          `Variable '${name}' of prompt '${this.key}' must have shape [${old.shape.join(', ')}], got [${next.shape.join(', ')}].`,
          { name, expected: old.shape, actual: next.shape },
        );
      }
    }
    for (const [name, old] of this.vars) {
      const next = variables.get(name) as tf.Variable;
      if (next !== old) old.dispose();
      this.vars.set(name, next);
    }
  }

  /** Disposes the variables and any constants ({@link BasePrompt.disposeConstants}). */
  dispose(): void {
    for (const v of this.vars.values()) v.dispose();
    this.disposeConstants();
  }

  /** Override to dispose kept constant tensors (masks). */
  protected disposeConstants(): void {}
}

/** Throws a {@link ShapeError} unless `x` is `[N, H, W, C]` with the expected image shape. */
export function assertImageBatch(x: tf.Tensor, expected: ImageShape, key: string): void {
  if (x.rank !== 4 || x.shape[1] !== expected[0] || x.shape[2] !== expected[1] || x.shape[3] !== expected[2]) {
    throw new ShapeError(
      `Prompt '${key}' expects NHWC images [N, ${expected.join(', ')}], got [${x.shape.join(', ')}]. ` +
        'Resize or pad the images to the prompt input size, or create the prompt with matching sizes.',
      { expected: [null, ...expected], actual: x.shape },
    );
  }
}

export function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Validates a positive integer config field. */
export function positiveInt(value: unknown, field: string, key: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new ConfigError(`Prompt '${key}': '${field}' must be a positive integer, got ${JSON.stringify(value)}.`, {
      field,
      value,
    });
  }
  return value;
}

/** Validates an optional finite number config field. */
export function optionalNumber(value: unknown, field: string, key: string, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new ConfigError(`Prompt '${key}': '${field}' must be a finite number, got ${JSON.stringify(value)}.`, {
      field,
      value,
    });
  }
  return value;
}

/** Validates an optional integer seed. */
export function optionalSeed(value: unknown, key: string): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isInteger(value)) {
    throw new ConfigError(`Prompt '${key}': 'seed' must be an integer, got ${JSON.stringify(value)}.`, {
      field: 'seed',
      value,
    });
  }
  return value;
}

/** Throws a {@link ConfigError} if `config` is not a plain object. */
export function assertConfigObject(config: unknown, key: string): asserts config is Record<string, unknown> {
  if (typeof config !== 'object' || config === null || Array.isArray(config)) {
    throw new ConfigError(`Prompt '${key}' needs a config object, got ${JSON.stringify(config)}.`, { key });
  }
}

/** Row-major Float32Array filled with `value`. */
export function filled(size: number, value: number): Float32Array {
  return new Float32Array(size).fill(value);
}
