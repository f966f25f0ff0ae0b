import * as tf from '@tensorflow/tfjs';
import { BasePrompt, type ImageShape, type ParameterCount, type PromptPattern, type SegmentInfo } from './prompt.js';
import { expansivePadding, resolvePadConfig, ringMask, type ExpansivePadConfig } from './expansive-pad.js';

/** Config of {@link ReprogramPad}: the same sizes as the expansive pad. */
export type ReprogramPadConfig = ExpansivePadConfig;

/**
 * The adversarial program of Elsayed et al.: the n×n image sits in the centre of an m×m canvas and the
 * learnable program fills the rest through a tanh,
 *
 *   y = zeroPad(x, l, r) + tanh(W ⊙ M)
 *
 * - `W` — variable `program`, `[m, m, C]`, zero-initialised (the ring starts at 0),
 * - `M` — fixed mask, 0 on the centred n×n window (same l, r as {@link ExpansivePad}).
 *
 * Ring values lie in (−1, 1), matching images scaled to [−1, 1]. Effective parameters C·(m²−n²), stored C·m².
 * Added by following `docs/contributing/prompt-type.md` (it is the worked example there).
 *
 * Paper: Elsayed, Goodfellow, Sohl-Dickstein, "Adversarial Reprogramming of Neural Networks" (ICLR 2019).
 */
export class ReprogramPad extends BasePrompt {
  readonly key = 'reprogramPad';
  readonly config: Readonly<Required<ReprogramPadConfig>>;
  readonly inputShape: ImageShape;
  readonly outputShape: ImageShape;
  private readonly pad: [number, number];
  private readonly mask: tf.Tensor3D;

  constructor(config: ReprogramPadConfig) {
    super();
    this.config = resolvePadConfig(config, 'reprogramPad');
    const { inputSize: n, outputSize: m, channels: c } = this.config;
    this.inputShape = [n, n, c];
    this.outputShape = [m, m, c];
    this.pad = expansivePadding(n, m);
    this.mask = tf.keep(ringMask(n, m));
    this.initVariables([{ name: 'program', shape: [m, m, c], init: new Float32Array(m * m * c) }]);
  }

  protected forward(x: tf.Tensor4D): tf.Tensor4D {
    const [l, r] = this.pad;
    const padded = tf.pad(x, [[0, 0], [l, r], [l, r], [0, 0]]);
    return tf.add(padded, tf.tanh(tf.mul(this.variable('program'), this.mask))) as tf.Tensor4D;
  }

  parameterCount(): ParameterCount {
    const { inputSize: n, outputSize: m, channels: c } = this.config;
    return { effective: c * (m * m - n * n), stored: c * m * m };
  }

  pattern(): PromptPattern {
    return tf.tidy(() => ({
      values: tf.tanh(tf.mul(this.variable('program'), this.mask)) as tf.Tensor3D,
      mask: this.mask.clone(),
      kind: 'additive' as const,
    }));
  }

  override segments(): readonly SegmentInfo[] {
    const { inputSize, outputSize } = this.config;
    return [{ index: 1, inputSize, outputSize, pad: this.pad, tensors: ['program'], parameterCount: this.parameterCount() }];
  }

  protected override disposeConstants(): void {
    this.mask.dispose();
  }
}
