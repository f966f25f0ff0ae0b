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

/** Config of {@link AdditivePad}. */
export interface AdditivePadConfig {
  /** Side S of the (square) image, already at the host's input size (e.g. 224). */
  readonly size: number;
  /** Border width p (Bahng et al. use 30 for 224). Must satisfy 2p < S. */
  readonly padSize: number;
  /** Image channels (default 3). */
  readonly channels?: number;
  /** Seed of the N(0, std²) initialisation (default 0). */
  readonly seed?: number;
  /** Standard deviation of the initialisation (default 1, as `torch.randn`). */
  readonly initStd?: number;
}

/**
 * Bahng et al.'s PadPrompter: a learnable border of width p **added** onto an image that already has the
 * canvas size, `y = x + δ`, where δ is zero in the centre (S−2p)² window and made of four learnable strips
 * `padUp [p,S,C]`, `padDown [p,S,C]`, `padLeft [S−2p,p,C]`, `padRight [S−2p,p,C]`, initialised N(0,1) (seeded).
 * Effective = stored = C·(2pS + 2(S−2p)p); 69 840 for S=224, p=30.
 *
 * Paper: Bahng et al., "Exploring Visual Prompts for Adapting Large-Scale Models" (2022).
 */
export class AdditivePad extends BasePrompt {
  readonly key = 'additivePad';
  readonly config: Readonly<Required<AdditivePadConfig>>;
  readonly inputShape: ImageShape;
  readonly outputShape: ImageShape;

  constructor(config: AdditivePadConfig) {
    super();
    assertConfigObject(config, 'additivePad');
    const size = positiveInt(config.size, 'size', 'additivePad');
    const padSize = positiveInt(config.padSize, 'padSize', 'additivePad');
    const channels = positiveInt(config.channels ?? 3, 'channels', 'additivePad');
    const seed = optionalSeed(config.seed, 'additivePad');
    const initStd = optionalNumber(config.initStd, 'initStd', 'additivePad', 1);
    if (2 * padSize >= size) {
      throw new ConfigError(
        `Prompt 'additivePad': the border (2·padSize = ${2 * padSize}) must be narrower than the image (size = ${size}).`,
        { field: 'padSize', size, padSize },
      );
    }
    this.config = { size, padSize, channels, seed, initStd };
    this.inputShape = [size, size, channels];
    this.outputShape = [size, size, channels];
    const p = padSize;
    const inner = size - 2 * p;
    const horizontal = p * size * channels;
    const vertical = inner * p * channels;
    // One seeded stream, drawn in the order of the reference module: up, down, left, right.
    const init = normalInit(2 * horizontal + 2 * vertical, seed, initStd);
    this.initVariables([
      { name: 'padUp', shape: [p, size, channels], init: init.slice(0, horizontal) },
      { name: 'padDown', shape: [p, size, channels], init: init.slice(horizontal, 2 * horizontal) },
      { name: 'padLeft', shape: [inner, p, channels], init: init.slice(2 * horizontal, 2 * horizontal + vertical) },
      { name: 'padRight', shape: [inner, p, channels], init: init.slice(2 * horizontal + vertical) },
    ]);
  }

  /** δ, the full `[S, S, C]` prompt (zero in the centre). */
  private delta(): tf.Tensor3D {
    const { size, padSize: p, channels } = this.config;
    const inner = size - 2 * p;
    const middle = tf.concat(
      [this.variable('padLeft'), tf.zeros([inner, inner, channels]), this.variable('padRight')],
      1,
    );
    return tf.concat([this.variable('padUp'), middle, this.variable('padDown')], 0) as tf.Tensor3D;
  }

  protected forward(x: tf.Tensor4D): tf.Tensor4D {
    return tf.add(x, this.delta()) as tf.Tensor4D;
  }

  parameterCount(): ParameterCount {
    const { size: s, padSize: p, channels: c } = this.config;
    const n = c * (2 * p * s + 2 * (s - 2 * p) * p);
    return { effective: n, stored: n };
  }

  pattern(): PromptPattern {
    return tf.tidy(() => {
      const { size, padSize: p } = this.config;
      const inner = size - 2 * p;
      const mask = tf.pad(tf.zeros([inner, inner, 1]), [[p, p], [p, p], [0, 0]], 1) as tf.Tensor3D;
      return { values: this.delta(), mask, kind: 'additive' as const };
    });
  }
}
