import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '@promptkd/core';
import {
  BasePrompt,
  assertConfigObject,
  positiveInt,
  type ImageShape,
  type ParameterCount,
  type PromptPattern,
  type SegmentInfo,
} from './prompt.js';

/** Config of {@link ExpansivePad}. */
export interface ExpansivePadConfig {
  /** `n`: side of the (square) input image. */
  readonly inputSize: number;
  /** `m`: side of the output canvas, m > n. */
  readonly outputSize: number;
  /** Image channels (default 3). */
  readonly channels?: number;
}

/**
 * Zero padding `[before, after]` that centres an n×n image in an m×m canvas, as in ILM-VP/KiOP:
 * `before = l = ⌊(m−n+1)/2⌋`, `after = r = ⌊(m−n)/2⌋`. 32→36: (2,2); 36→128: (46,46); 128→224: (48,48).
 */
export function expansivePadding(inputSize: number, outputSize: number): [number, number] {
  return [Math.floor((outputSize - inputSize + 1) / 2), Math.floor((outputSize - inputSize) / 2)];
}

/** Validates and normalises an {@link ExpansivePadConfig} (shared by `expansivePad` and pad-like types). */
export function resolvePadConfig(config: unknown, key: string): Required<ExpansivePadConfig> {
  assertConfigObject(config, key);
  const inputSize = positiveInt(config.inputSize, 'inputSize', key);
  const outputSize = positiveInt(config.outputSize, 'outputSize', key);
  const channels = positiveInt(config.channels ?? 3, 'channels', key);
  if (outputSize <= inputSize) {
    throw new ConfigError(
      `Prompt '${key}': outputSize (m=${outputSize}) must be larger than inputSize (n=${inputSize}); ` +
        'the prompt pads the image, it never crops it.',
      { field: 'outputSize', inputSize, outputSize },
    );
  }
  return { inputSize, outputSize, channels };
}

/** The fixed mask M `[m, m, 1]`: 0 on the centred n×n window, 1 on the ring. */
export function ringMask(inputSize: number, outputSize: number): tf.Tensor3D {
  const [l, r] = expansivePadding(inputSize, outputSize);
  return tf.tidy(() => tf.pad(tf.zeros([inputSize, inputSize, 1]), [[l, r], [l, r], [0, 0]], 1) as tf.Tensor3D);
}

/**
 * The expansive pad as a pure function: `y = zeroPad(x, l, r) + sigmoid(θ) ⊙ M` for NHWC `x` `[N, n, n, C]`
 * and `θ` `[m, m, C]` (n and m are read from the shapes). Differentiable w.r.t. both.
 */
export function expansivePadOp(x: tf.Tensor4D, theta: tf.Tensor3D): tf.Tensor4D {
  return tf.tidy(() => {
    const n = x.shape[1];
    const m = theta.shape[0];
    const [l, r] = expansivePadding(n, m);
    const padded = tf.pad(x, [[0, 0], [l, r], [l, r], [0, 0]]);
    return tf.add(padded, tf.mul(tf.sigmoid(theta), ringMask(n, m))) as tf.Tensor4D;
  });
}

/**
 * The "expansive" padding prompt of ILM-VP, used by KiOP for the Prompt Core and Prompt Periphery:
 *
 *   y = zeroPad(x, l, r) + sigmoid(θ) ⊙ M
 *
 * - `x` — n×n NHWC images (not resized; they sit in the centre),
 * - `θ` — variable `theta`, `[m, m, C]`, initialised to zero (so the ring starts at exactly 0.5),
 * - `M` — fixed mask, 0 on the centre n×n window.
 *
 * Only the ring entries of θ get gradients (the centre is masked out). Effective parameters C·(m²−n²),
 * stored C·m² (e.g. 816 / 3 888 for 32→36).
 *
 * Paper: Chen et al., "Understanding and Improving Visual Prompting: A Label-Mapping Perspective" (ILM-VP, CVPR 2023);
 * Li et al., "Encapsulating Knowledge in One Prompt" (KiOP, ECCV 2024).
 */
export class ExpansivePad extends BasePrompt {
  readonly key = 'expansivePad';
  readonly config: Readonly<Required<ExpansivePadConfig>>;
  readonly inputShape: ImageShape;
  readonly outputShape: ImageShape;
  /** `[l, r]` padding of the input. */
  readonly pad: readonly [number, number];
  private readonly mask: tf.Tensor3D;
  private readonly thetaName: string;

  constructor(config: ExpansivePadConfig, options: { variableName?: string } = {}) {
    super();
    this.config = resolvePadConfig(config, 'expansivePad');
    const { inputSize: n, outputSize: m, channels: c } = this.config;
    this.inputShape = [n, n, c];
    this.outputShape = [m, m, c];
    this.pad = expansivePadding(n, m);
    this.thetaName = options.variableName ?? 'theta';
    this.mask = tf.keep(ringMask(n, m));
    this.initVariables([{ name: this.thetaName, shape: [m, m, c], init: new Float32Array(m * m * c) }]);
  }

  /** θ (`[m, m, C]`). */
  get theta(): tf.Variable {
    return this.variable(this.thetaName);
  }

  protected forward(x: tf.Tensor4D): tf.Tensor4D {
    const [l, r] = this.pad;
    const padded = tf.pad(x, [[0, 0], [l, r], [l, r], [0, 0]]);
    return tf.add(padded, tf.mul(tf.sigmoid(this.theta), this.mask)) as tf.Tensor4D;
  }

  parameterCount(): ParameterCount {
    const { inputSize: n, outputSize: m, channels: c } = this.config;
    return { effective: c * (m * m - n * n), stored: c * m * m };
  }

  pattern(): PromptPattern {
    return tf.tidy(() => {
      const mask = this.mask.clone();
      const values = tf.mul(tf.sigmoid(this.theta), this.mask) as tf.Tensor3D;
      return { values, mask, kind: 'absolute' as const };
    });
  }

  override segments(): readonly SegmentInfo[] {
    return [
      {
        index: 1,
        inputSize: this.config.inputSize,
        outputSize: this.config.outputSize,
        pad: this.pad,
        tensors: [this.thetaName],
        parameterCount: this.parameterCount(),
      },
    ];
  }

  protected override disposeConstants(): void {
    this.mask.dispose();
  }
}
