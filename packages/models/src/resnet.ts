import * as tf from '@tensorflow/tfjs';
import { ConfigError, Rng } from '@promptkd/core';
import { FunctionalClassifier, type BaseModelConfig } from './classifier-base.js';
import { BatchNorm2d, Conv2d, Linear, globalAvgPool, maxPool2d, tap, type ForwardContext, type InitScheme } from './layers.js';
import type { ParamStore } from './param-store.js';

/** Config of {@link ResNet}. */
export interface ResNetConfig extends BaseModelConfig {
  /** `cifar`: CMI/DAFL CIFAR ResNet (3×3 stem, `shortcut.*`, head `linear`); `torchvision`: 7×7/2 stem + max-pool, `downsample.*`, head `fc`. */
  readonly variant?: 'cifar' | 'torchvision';
  /** Residual block type. Default `basic`. */
  readonly block?: 'basic' | 'bottleneck';
  /** Blocks per stage. Default [2, 2, 2, 2] (ResNet-18). */
  readonly layers?: readonly [number, number, number, number];
  /** Stage widths (planes). Default [64, 128, 256, 512]; the stem has widths[0] channels. Reduce for CPU runs. */
  readonly widths?: readonly [number, number, number, number];
}

interface ResBlock {
  convs: Conv2d[];
  bns: BatchNorm2d[];
  shortcut: { conv: Conv2d; bn: BatchNorm2d } | undefined;
}

/** Preset block layouts of the named ResNets. */
export const resnetLayouts = {
  resnet18: { block: 'basic', layers: [2, 2, 2, 2] },
  resnet34: { block: 'basic', layers: [3, 4, 6, 3] },
  resnet50: { block: 'bottleneck', layers: [3, 4, 6, 3] },
} as const;

/**
 * ResNet (He et al., 2016) with PyTorch names. Two variants:
 * - `cifar` — `datafree/models/classifiers/resnet.py` of CMI (from DAFL): conv1 3×3/1 → bn1 → ReLU, stages
 *   `layer1..4` with `shortcut.0/1` projections, adaptive average pool, `linear`. PyTorch default init.
 * - `torchvision` — `torchvision.models.resnet18/50`: conv1 7×7/2 (pad 3) → bn1 → ReLU → max-pool 3×3/2 (pad 1),
 *   `downsample.0/1` projections, stride on the 3×3 conv of bottlenecks (v1.5), adaptive average pool, `fc`.
 *   torchvision init (kaiming-normal fan-out convs, BN 1/0, default linear).
 * Global average pooling makes any input size ≥ 1 px after the stem work (32, 36, 128, 224, ...).
 *
 * Taps: `stem`, `layer1`..`layer4`, `features` (pooled, [N, C]).
 */
export class ResNet extends FunctionalClassifier {
  readonly tapNames = ['stem', 'layer1', 'layer2', 'layer3', 'layer4', 'features'] as const;
  readonly variant: 'cifar' | 'torchvision';
  private readonly conv1: Conv2d;
  private readonly bn1: BatchNorm2d;
  private readonly stages: ResBlock[][] = [];
  private readonly head: Linear;
  private readonly bottleneck: boolean;

  constructor(config: ResNetConfig = {}) {
    const variant = config.variant ?? 'cifar';
    const block = config.block ?? 'basic';
    const layers = config.layers ?? [2, 2, 2, 2];
    const widths = config.widths ?? [64, 128, 256, 512];
    const numClasses = config.numClasses ?? 10;
    const inputChannels = config.inputChannels ?? 3;
    if (layers.length !== 4 || widths.length !== 4 || [...layers, ...widths].some((v) => !Number.isInteger(v) || v < 1)) {
      throw new ConfigError('ResNet `layers` and `widths` need four positive integers each.', { field: 'layers' });
    }
    super(config.name ?? `resnet-${variant}`, numClasses, inputChannels, config.normalization, {
      ...config, variant, block, layers, widths, numClasses, inputChannels,
    });
    this.variant = variant;
    this.bottleneck = block === 'bottleneck';
    const rng = Rng.fromSeed(config.seed ?? 0);
    const p = this.params;
    const scheme: InitScheme = variant === 'torchvision' ? 'kaimingFanOut' : 'torch';
    const expansion = this.bottleneck ? 4 : 1;
    const stem = widths[0];
    this.conv1 = variant === 'torchvision'
      ? new Conv2d(p, 'conv1', { inChannels: inputChannels, outChannels: stem, kernel: 7, stride: 2, padding: 3, init: scheme }, rng)
      : new Conv2d(p, 'conv1', { inChannels: inputChannels, outChannels: stem, kernel: 3, stride: 1, padding: 1, init: scheme }, rng);
    this.bn1 = new BatchNorm2d(p, 'bn1', stem);
    let inPlanes = stem;
    const shortcutName = variant === 'torchvision' ? 'downsample' : 'shortcut';
    for (let s = 0; s < 4; s++) {
      const planes = widths[s] as number;
      const stage: ResBlock[] = [];
      for (let b = 0; b < (layers[s] as number); b++) {
        const stride = b === 0 && s > 0 ? 2 : 1;
        const name = `layer${s + 1}.${b}`;
        stage.push(makeBlock(p, name, inPlanes, planes, stride, this.bottleneck, shortcutName, scheme, rng));
        inPlanes = planes * expansion;
      }
      this.stages.push(stage);
    }
    const headName = variant === 'torchvision' ? 'fc' : 'linear';
    this.head = new Linear(p, headName, { inFeatures: inPlanes, outFeatures: numClasses }, rng);
    this.headNames = [`${headName}.weight`, `${headName}.bias`];
  }

  protected forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D {
    let h = this.bn1.apply(this.conv1.apply(x), ctx, true);
    if (this.variant === 'torchvision') h = maxPool2d(h, 3, 2, 1);
    tap(ctx, 'stem', h);
    this.stages.forEach((stage, s) => {
      for (const b of stage) h = this.applyBlock(b, h, ctx);
      tap(ctx, `layer${s + 1}`, h);
    });
    const f = globalAvgPool(h);
    tap(ctx, 'features', f);
    return this.head.apply(f);
  }

  private applyBlock(b: ResBlock, x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor4D {
    let h = x;
    const last = b.convs.length - 1;
    b.convs.forEach((conv, i) => {
      h = (b.bns[i] as BatchNorm2d).apply(conv.apply(h), ctx, i < last);
    });
    const sc = b.shortcut ? b.shortcut.bn.apply(b.shortcut.conv.apply(x), ctx) : x;
    return tf.relu(tf.add(h, sc)) as tf.Tensor4D;
  }
}

function makeBlock(
  p: ParamStore, name: string, inPlanes: number, planes: number, stride: number, bottleneck: boolean,
  shortcutName: string, init: InitScheme, rng: Rng,
): ResBlock {
  const convs: Conv2d[] = [];
  const bns: BatchNorm2d[] = [];
  const add = (i: number, cin: number, cout: number, k: number, s: number): void => {
    convs.push(new Conv2d(p, `${name}.conv${i}`, { inChannels: cin, outChannels: cout, kernel: k, stride: s, padding: k === 3 ? 1 : 0, init }, rng));
    bns.push(new BatchNorm2d(p, `${name}.bn${i}`, cout));
  };
  const out = bottleneck ? planes * 4 : planes;
  if (bottleneck) {
    add(1, inPlanes, planes, 1, 1);
    add(2, planes, planes, 3, stride);
    add(3, planes, out, 1, 1);
  } else {
    add(1, inPlanes, planes, 3, stride);
    add(2, planes, planes, 3, 1);
  }
  let shortcut: ResBlock['shortcut'];
  if (stride !== 1 || inPlanes !== out) {
    shortcut = {
      conv: new Conv2d(p, `${name}.${shortcutName}.0`, { inChannels: inPlanes, outChannels: out, kernel: 1, stride, init }, rng),
      bn: new BatchNorm2d(p, `${name}.${shortcutName}.1`, out),
    };
  }
  return { convs, bns, shortcut };
}
