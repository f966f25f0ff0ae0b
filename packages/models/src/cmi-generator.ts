import * as tf from '@tensorflow/tfjs';
import { Rng, ShapeError, type ApplyOptions, type BatchNormTap } from '@promptkd/core';
import type { TorchNamedModel } from './classifier-base.js';
import { BatchNorm2d, Conv2d, Linear, createContext, upsampleNearest2x } from './layers.js';
import { init, ParamStore, type ParamLayout } from './param-store.js';

/** Config of {@link CmiGenerator}. Defaults are KiOP's (nz=256, ngf=64, 32×32 RGB). */
export interface CmiGeneratorConfig {
  /** Latent size nz. Default 256. */
  readonly nz?: number;
  /** Base width ngf. Default 64. */
  readonly ngf?: number;
  /** Output side (multiple of 4). Default 32. */
  readonly imageSize?: number;
  /** Output channels nc. Default 3. */
  readonly channels?: number;
  /** Seed of the initial {@link CmiGenerator.reinitialize}. Default 0. */
  readonly seed?: number;
}

/**
 * The CMI generator (Fang et al., 2021; `datafree/models/generator.py` `Generator`, used unchanged by KiOP):
 * ```
 * z [N, nz] → Linear(nz → 2·ngf·(s/4)²) → view [N, 2ngf, s/4, s/4] → BN → up×2
 *   → conv3×3(2ngf→2ngf, no bias) → BN → LeakyReLU(0.2) → up×2
 *   → conv3×3(2ngf→ngf, no bias) → BN → LeakyReLU(0.2) → conv3×3(ngf→nc, bias) → sigmoid   (NHWC in [0,1])
 * ```
 * Names follow the reference `nn.Sequential`s: `l1.0`, `conv_blocks.0` (BN), `conv_blocks.2` (conv),
 * `conv_blocks.3` (BN), `conv_blocks.6` (conv), `conv_blocks.7` (BN), `conv_blocks.9` (conv + bias).
 * It runs in train mode by default (batch statistics), as in CMI.
 */
export class CmiGenerator implements TorchNamedModel {
  readonly name = 'cmiGenerator';
  readonly params = new ParamStore();
  readonly config: Required<CmiGeneratorConfig>;
  private readonly l1: Linear;
  private readonly bn0: BatchNorm2d;
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm2d;
  private readonly conv2: Conv2d;
  private readonly bn2: BatchNorm2d;
  private readonly conv3: Conv2d;

  constructor(config: CmiGeneratorConfig = {}) {
    const c = { nz: 256, ngf: 64, imageSize: 32, channels: 3, seed: 0, ...config };
    if (c.imageSize % 4 !== 0) throw new ShapeError(`CMI generator imageSize must be a multiple of 4, got ${c.imageSize}.`, { field: 'imageSize' });
    this.config = c;
    const rng = Rng.fromSeed(c.seed);
    const p = this.params;
    const s = c.imageSize / 4;
    const g2 = 2 * c.ngf;
    this.l1 = new Linear(p, 'l1.0', { inFeatures: c.nz, outFeatures: g2 * s * s }, rng);
    this.bn0 = new BatchNorm2d(p, 'conv_blocks.0', g2);
    this.conv1 = new Conv2d(p, 'conv_blocks.2', { inChannels: g2, outChannels: g2, kernel: 3, padding: 1 }, rng);
    this.bn1 = new BatchNorm2d(p, 'conv_blocks.3', g2);
    this.conv2 = new Conv2d(p, 'conv_blocks.6', { inChannels: g2, outChannels: c.ngf, kernel: 3, padding: 1 }, rng);
    this.bn2 = new BatchNorm2d(p, 'conv_blocks.7', c.ngf);
    this.conv3 = new Conv2d(p, 'conv_blocks.9', { inChannels: c.ngf, outChannels: c.channels, kernel: 3, padding: 1, bias: true }, rng);
    this.reinitialize(rng);
  }

  /**
   * CMI's per-round re-initialisation (kiop-spec §3): conv/linear weights ~ N(0, 0.02), biases 0,
   * BN weight ~ N(1, 0.02), BN bias 0. Running buffers are left alone (irrelevant in train mode).
   */
  reinitialize(rng: Rng): void {
    tf.tidy(() => {
      for (const [name, v] of this.params.named()) {
        if (this.params.isBuffer(name)) continue;
        const isBn = name.startsWith('conv_blocks.') && [0, 3, 7].includes(Number(name.split('.')[1]));
        if (name.endsWith('.bias')) v.assign(tf.zerosLike(v));
        else v.assign(init.normal(v.shape, 0.02, rng, isBn ? 1 : 0));
      }
    });
  }

  /**
   * z [N, nz] → images [N, s, s, nc] in [0, 1]. `training` defaults to TRUE (batch statistics, as CMI);
   * `bnTaps` fills `bn` of the returned object.
   */
  generate(z: tf.Tensor2D, options: ApplyOptions = {}): { images: tf.Tensor4D; bn?: BatchNormTap[] } {
    if (z.rank !== 2 || z.shape[1] !== this.config.nz) {
      throw new ShapeError(`CMI generator expects z of shape [N, ${this.config.nz}], got [${z.shape.join(', ')}].`, { actual: z.shape });
    }
    const ctx = createContext({ ...options, training: options.training ?? true }, [], this.name);
    return tf.tidy(() => {
      const n = z.shape[0];
      const s = this.config.imageSize / 4;
      let h = tf.transpose(tf.reshape(this.l1.apply(z), [n, 2 * this.config.ngf, s, s]), [0, 2, 3, 1]) as tf.Tensor4D;
      h = upsampleNearest2x(this.bn0.apply(h, ctx));
      h = upsampleNearest2x(tf.leakyRelu(this.bn1.apply(this.conv1.apply(h), ctx), 0.2));
      h = tf.leakyRelu(this.bn2.apply(this.conv2.apply(h), ctx), 0.2);
      const images = tf.sigmoid(this.conv3.apply(h));
      return (ctx.bn ? { images, bn: ctx.bn } : { images }) as unknown as tf.TensorContainer;
    }) as unknown as { images: tf.Tensor4D; bn?: BatchNormTap[] };
  }

  /** Latent size nz (the `SynthesisGenerator` contract of `@promptkd/data-free`). */
  get latentDim(): number {
    return this.config.nz;
  }

  /** Shorthand for `generate(z, options).images`. */
  apply(z: tf.Tensor2D, options: ApplyOptions = {}): tf.Tensor4D {
    return this.generate(z, { ...options, bnTaps: false }).images;
  }

  namedVariables(): ReadonlyMap<string, tf.Variable> {
    return this.params.named();
  }

  trainableVariables(): tf.Variable[] {
    return this.params.trainableVariables();
  }

  setTrainable(trainable: boolean): void {
    this.params.setTrainable(trainable);
  }

  torchLayout(name: string): ParamLayout {
    return this.params.layout(name);
  }

  isBuffer(name: string): boolean {
    return this.params.isBuffer(name);
  }

  dispose(): void {
    this.params.dispose();
  }
}

/** Creates a {@link CmiGenerator} (KiOP defaults: nz 256, ngf 64, 32×32×3). */
export function createCmiGenerator(config: CmiGeneratorConfig = {}): CmiGenerator {
  return new CmiGenerator(config);
}
