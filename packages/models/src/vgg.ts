import * as tf from '@tensorflow/tfjs';
import { ConfigError, Rng, type RngState } from '@promptkd/core';
import { FunctionalClassifier, type BaseModelConfig } from './classifier-base.js';
import { BatchNorm2d, Conv2d, Linear, adaptiveAvgPool2d, maxPool2d, tap, type ForwardContext } from './layers.js';
import { init } from './param-store.js';

/** Config of {@link VggBn}. */
export interface VggBnConfig extends BaseModelConfig {
  /** Convs per stage. Default [2, 2, 2, 2, 2] (VGG-13). */
  readonly convsPerStage?: readonly number[];
  /** Stage widths. Default [64, 128, 256, 512, 512]. */
  readonly widths?: readonly number[];
  /** Classifier hidden width. Default 4096. */
  readonly hidden?: number;
  /** Dropout rate in the classifier (training only). Default 0.5. */
  readonly dropout?: number;
}

/**
 * torchvision `vgg13_bn` (Simonyan & Zisserman, 2015): stages of conv3×3(pad 1, bias) → BN → ReLU, each stage
 * followed by max-pool 2×2/2; adaptive average pool to 7×7 (a 1×1 map at 32 px is replicated); classifier
 * Linear(C·49 → hidden) → ReLU → Dropout → Linear(hidden → hidden) → ReLU → Dropout → Linear(hidden → K).
 * Names `features.N` (torchvision's Sequential indices) and `classifier.{0,3,6}`. The flatten uses PyTorch's
 * NCHW order, so `classifier.0.weight` loads unchanged. torchvision init (kaiming-normal fan-out convs,
 * N(0, 0.01) linears, zero biases). Dropout draws its seeds from the model seed.
 *
 * Taps: `stage.i` (after the i-th max-pool), `pooled` (flattened 7×7 map), `features` (input of the last linear).
 */
export class VggBn extends FunctionalClassifier {
  readonly tapNames: readonly string[];
  private readonly stages: { conv: Conv2d; bn: BatchNorm2d }[][] = [];
  private readonly fc: Linear[];
  private readonly dropout: number;
  private dropoutRng: Rng;

  constructor(config: VggBnConfig = {}) {
    const convs = config.convsPerStage ?? [2, 2, 2, 2, 2];
    const widths = config.widths ?? [64, 128, 256, 512, 512];
    if (convs.length !== widths.length || convs.length === 0) {
      throw new ConfigError('VGG `convsPerStage` and `widths` need the same (non-zero) length.', { field: 'widths' });
    }
    const hidden = config.hidden ?? 4096;
    const numClasses = config.numClasses ?? 10;
    const inputChannels = config.inputChannels ?? 3;
    super(config.name ?? 'vgg13Bn', numClasses, inputChannels, config.normalization, {
      ...config, convsPerStage: convs, widths, hidden, numClasses, inputChannels, dropout: config.dropout ?? 0.5,
    });
    this.dropout = config.dropout ?? 0.5;
    const rng = Rng.fromSeed(config.seed ?? 0);
    this.dropoutRng = rng.fork();
    const p = this.params;
    let idx = 0;
    let c = inputChannels;
    convs.forEach((n, s) => {
      const stage: { conv: Conv2d; bn: BatchNorm2d }[] = [];
      for (let i = 0; i < n; i++) {
        const w = widths[s] as number;
        const conv = new Conv2d(p, `features.${idx}`, { inChannels: c, outChannels: w, kernel: 3, padding: 1, bias: true, init: 'kaimingFanOut' }, rng);
        stage.push({ conv, bn: new BatchNorm2d(p, `features.${idx + 1}`, w) });
        idx += 3;
        c = w;
      }
      idx += 1; // max-pool
      this.stages.push(stage);
    });
    const lin = (name: string, i: number, o: number): Linear => {
      const l = new Linear(p, name, { inFeatures: i, outFeatures: o }, rng);
      l.weight.assign(tf.tidy(() => init.normal([i, o], 0.01, rng)));
      l.bias?.assign(tf.zeros([o]));
      return l;
    };
    this.fc = [lin('classifier.0', c * 49, hidden), lin('classifier.3', hidden, hidden), lin('classifier.6', hidden, numClasses)];
    this.headNames = ['classifier.6.weight', 'classifier.6.bias'];
    this.tapNames = [...this.stages.map((_, i) => `stage.${i}`), 'pooled', 'features'];
  }

  override reseed(seed: number): void {
    this.dropoutRng = Rng.fromSeed(seed);
  }

  /** The dropout generator's state, saved in training checkpoints so a resumed run draws the same masks. */
  rngState(): RngState {
    return this.dropoutRng.getState();
  }

  /** Restores {@link VggBn.rngState}. */
  setRngState(state: unknown): void {
    this.dropoutRng = Rng.fromState(state as RngState);
  }

  protected forward(x: tf.Tensor4D, ctx: ForwardContext): tf.Tensor2D {
    let h = x;
    this.stages.forEach((stage, s) => {
      for (const { conv, bn } of stage) h = bn.apply(conv.apply(h), ctx, true);
      h = maxPool2d(h, 2, 2);
      tap(ctx, `stage.${s}`, h);
    });
    const pooled = adaptiveAvgPool2d(h, 7, 7);
    const n = x.shape[0];
    // PyTorch flattens NCHW: index c·49 + h·7 + w.
    let f = tf.reshape(tf.transpose(pooled, [0, 3, 1, 2]), [n, -1]) as tf.Tensor2D;
    tap(ctx, 'pooled', f);
    const [fc0, fc3, fc6] = this.fc as [Linear, Linear, Linear];
    for (const l of [fc0, fc3]) {
      f = tf.relu(l.apply(f));
      if (ctx.training && this.dropout > 0) f = tf.dropout(f, this.dropout, undefined, this.dropoutRng.seed()) as tf.Tensor2D;
    }
    tap(ctx, 'features', f);
    return fc6.apply(f);
  }
}
