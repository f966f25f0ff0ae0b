import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '@promptkd/core';
import { normalInit } from './normal-init.js';
import {
  BasePrompt,
  assertConfigObject,
  optionalNumber,
  optionalSeed,
  positiveInt,
  type ImageShape,
  type ParameterCount,
  type PromptPattern,
} from './prompt.js';

/** Config of {@link FixedPatch} and {@link RandomPatch}. */
export interface PatchConfig {
  /** Side S of the (square) image. */
  readonly size: number;
  /** Side p of the learnable square patch, p ≤ S. */
  readonly patchSize: number;
  /** Image channels (default 3). */
  readonly channels?: number;
  /** Seed of the N(0, std²) initialisation (and of the placement for `randomPatch`). Default 0. */
  readonly seed?: number;
  /** Standard deviation of the initialisation (default 1). */
  readonly initStd?: number;
}

/** Validates a {@link PatchConfig}. */
export function resolvePatchConfig(config: unknown, key: string): Required<PatchConfig> {
  assertConfigObject(config, key);
  const size = positiveInt(config.size, 'size', key);
  const patchSize = positiveInt(config.patchSize, 'patchSize', key);
  const channels = positiveInt(config.channels ?? 3, 'channels', key);
  const seed = optionalSeed(config.seed, key);
  const initStd = optionalNumber(config.initStd, 'initStd', key, 1);
  if (patchSize > size) {
    throw new ConfigError(`Prompt '${key}': patchSize (${patchSize}) must not exceed the image size (${size}).`, {
      field: 'patchSize',
      size,
      patchSize,
    });
  }
  return { size, patchSize, channels, seed, initStd };
}

/** Places a `[p,p,C]` patch at (row, col) of an S×S zero canvas (differentiable: a pad). */
export function placePatch(patch: tf.Tensor, size: number, row: number, col: number): tf.Tensor3D {
  const p = patch.shape[0] as number;
  return tf.pad(patch as tf.Tensor3D, [[row, size - p - row], [col, size - p - col], [0, 0]]);
}

/**
 * Bahng et al.'s FixedPatchPrompter: a learnable p×p patch added at the top-left corner of the image,
 * `y = x + place(patch, 0, 0)`. Parameter `patch` `[p, p, C]`, N(0,1) init (seeded). Effective = stored = C·p².
 *
 * Paper: Bahng et al., "Exploring Visual Prompts for Adapting Large-Scale Models" (2022).
 */
export class FixedPatch extends BasePrompt {
  readonly key: string = 'fixedPatch';
  readonly config: Readonly<Required<PatchConfig>>;
  readonly inputShape: ImageShape;
  readonly outputShape: ImageShape;

  constructor(config: PatchConfig, key = 'fixedPatch') {
    super();
    this.config = resolvePatchConfig(config, key);
    const { size, patchSize: p, channels, seed, initStd } = this.config;
    this.inputShape = [size, size, channels];
    this.outputShape = [size, size, channels];
    this.initVariables([{ name: 'patch', shape: [p, p, channels], init: normalInit(p * p * channels, seed, initStd) }]);
  }

  /** Where the patch goes for the next call: top-left for the fixed patch. */
  protected position(): [number, number] {
    return [0, 0];
  }

  /** Position used by {@link pattern} (the last one applied). */
  protected lastPosition: [number, number] = [0, 0];

  protected forward(x: tf.Tensor4D): tf.Tensor4D {
    const [row, col] = this.position();
    this.lastPosition = [row, col];
    return tf.add(x, placePatch(this.variable('patch'), this.config.size, row, col)) as tf.Tensor4D;
  }

  parameterCount(): ParameterCount {
    const { patchSize: p, channels: c } = this.config;
    return { effective: c * p * p, stored: c * p * p };
  }

  pattern(): PromptPattern {
    return tf.tidy(() => {
      const [row, col] = this.lastPosition;
      const { size, patchSize: p } = this.config;
      const values = placePatch(this.variable('patch'), size, row, col);
      const mask = placePatch(tf.ones([p, p, 1]), size, row, col);
      return { values, mask, kind: 'additive' as const };
    });
  }
}
