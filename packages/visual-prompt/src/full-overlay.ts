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

/** Config of {@link FullOverlay}. */
export interface FullOverlayConfig {
  /** Side S of the (square) image. */
  readonly size: number;
  /** Image channels (default 3). */
  readonly channels?: number;
  /** `'zeros'` (default: the prompted model starts as the plain model) or `'normal'` (seeded N(0, std²)). */
  readonly init?: 'zeros' | 'normal';
  readonly seed?: number;
  readonly initStd?: number;
}

/**
 * A learnable perturbation over the whole image, `y = x + δ`, δ `[S, S, C]` (variable `delta`).
 * Effective = stored = C·S². The "full" prompt of the visual-prompting literature (every pixel is a parameter).
 *
 * Paper: Bahng et al., "Exploring Visual Prompts for Adapting Large-Scale Models" (2022); Elsayed et al.,
 * "Adversarial Reprogramming of Neural Networks" (ICLR 2019) for the full-image program.
 */
export class FullOverlay extends BasePrompt {
  readonly key = 'fullOverlay';
  readonly config: Readonly<Required<FullOverlayConfig>>;
  readonly inputShape: ImageShape;
  readonly outputShape: ImageShape;

  constructor(config: FullOverlayConfig) {
    super();
    assertConfigObject(config, 'fullOverlay');
    const size = positiveInt(config.size, 'size', 'fullOverlay');
    const channels = positiveInt(config.channels ?? 3, 'channels', 'fullOverlay');
    const init = config.init ?? 'zeros';
    if (init !== 'zeros' && init !== 'normal') {
      throw new ConfigError(`Prompt 'fullOverlay': 'init' must be 'zeros' or 'normal', got ${JSON.stringify(init)}.`, {
        field: 'init',
      });
    }
    const seed = optionalSeed(config.seed, 'fullOverlay');
    const initStd = optionalNumber(config.initStd, 'initStd', 'fullOverlay', 1);
    this.config = { size, channels, init, seed, initStd };
    this.inputShape = [size, size, channels];
    this.outputShape = [size, size, channels];
    const n = size * size * channels;
    this.initVariables([
      { name: 'delta', shape: [size, size, channels], init: init === 'zeros' ? new Float32Array(n) : normalInit(n, seed, initStd) },
    ]);
  }

  protected forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.add(x, this.variable('delta')) as tf.Tensor4D;
  }

  parameterCount(): ParameterCount {
    const n = this.config.size * this.config.size * this.config.channels;
    return { effective: n, stored: n };
  }

  pattern(): PromptPattern {
    return tf.tidy(() => ({
      values: this.variable('delta').clone() as tf.Tensor3D,
      mask: tf.ones([this.config.size, this.config.size, 1]) as tf.Tensor3D,
      kind: 'additive' as const,
    }));
  }
}
