import type * as tf from '@tensorflow/tfjs';
import { ConfigError, Rng } from '@promptkd/core';
import { FunctionalClassifier, type BaseModelConfig } from './classifier-base.js';
import { BatchNorm2d, Conv2d, Linear, globalAvgPool, maxPool2d, tap, type ForwardContext } from './layers.js';

/** One conv-BN-ReLU(-maxpool) block of {@link BnCnn}. */
export interface BnCnnBlock {
  /** Output channels of the 3×3 conv. */
  readonly channels: number;
  /** Conv stride. Default 1. */
  readonly stride?: number;
  /** Append a 2×2/2 max-pool. Default false. */
  readonly pool?: boolean;
}

/** Config of {@link BnCnn}. */
export interface BnCnnConfig extends BaseModelConfig {
  /** Blocks; a number is shorthand for `{channels, pool: true}`. Default `[32, 64, 128]` (all pooled). */
  readonly blocks?: readonly (number | BnCnnBlock)[];
}

/**
 * A small BatchNorm CNN: blocks of conv3×3(pad 1, no bias) → BN → ReLU (→ max-pool 2×2), global average
 * pool, linear head. Parameters follow the PyTorch `nn.Sequential` numbering: a block takes 3 indices
 * (4 with pooling), then AdaptiveAvgPool and Flatten take one each and the head is the next index, e.g.
 * two unpooled blocks → `0.weight, 1.{weight,bias,running_mean,running_var}, 3.weight, 4.*, 8.{weight,bias}`.
 *
 * Taps: `blocks.i` (output of block i), `features` (pooled [N, C]).
 */
export class BnCnn extends FunctionalClassifier {
  readonly tapNames: readonly string[];
  private readonly layers: { conv: Conv2d; bn: BatchNorm2d; pool: boolean }[] = [];
  private readonly head: Linear;

  constructor(config: BnCnnConfig = {}) {
    const blocks = (config.blocks ?? [32, 64, 128]).map((b) => (typeof b === 'number' ? { channels: b, pool: true } : b));
    if (blocks.length === 0) throw new ConfigError('bnCnn needs at least one block.', { field: 'blocks' });
    const numClasses = config.numClasses ?? 10;
    const inputChannels = config.inputChannels ?? 3;
    super(config.name ?? 'bnCnn', numClasses, inputChannels, config.normalization, { ...config, blocks, numClasses, inputChannels });
    const rng = Rng.fromSeed(config.seed ?? 0);
    let index = 0;
    let c = inputChannels;
    for (const b of blocks) {
      const conv = new Conv2d(this.params, `${index}`, { inChannels: c, outChannels: b.channels, kernel: 3, stride: b.stride ?? 1, padding: 1, bias: false }, rng);
      const bn = new BatchNorm2d(this.params, `${index + 1}`, b.channels);
      this.layers.push({ conv, bn, pool: b.pool ?? false });
      index += b.pool ? 4 : 3;
      c = b.channels;
    }
    this.head = new Linear(this.params, `${index + 2}`, { inFeatures: c, outFeatures: numClasses }, rng);
    this.headNames = [`${index + 2}.weight`, `${index + 2}.bias`];
    this.tapNames = [...blocks.map((_, i) => `blocks.${i}`), 'features'];
  }

  protected forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D {
    let h = x;
    this.layers.forEach((l, i) => {
      h = l.bn.apply(l.conv.apply(h), ctx, true);
      if (l.pool) h = maxPool2d(h, 2, 2);
      tap(ctx, `blocks.${i}`, h);
    });
    const f = globalAvgPool(h);
    tap(ctx, 'features', f);
    return this.head.apply(f);
  }
}
