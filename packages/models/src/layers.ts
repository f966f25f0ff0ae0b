import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError, batchNormTraining, channelAffine, channelMoments, featureStatistics, layerNorm, linear, type BatchNormStatistics, type BatchNormTap, type Rng } from '@promptkd/core';
import { init, type ParamStore } from './param-store.js';

/** Per-forward state shared by the layers of one `apply` call. */
export interface ForwardContext {
  readonly training: boolean;
  /** BatchNorm normalises with batch statistics (always when `training`; also in `bnStatistics: 'batch'` mode). */
  readonly batchStatistics: boolean;
  /** Eval-mode statistics that replace the running statistics, by BN layer name (`ApplyOptions.bnOverride`). */
  readonly bnOverride: Readonly<Record<string, BatchNormStatistics>> | undefined;
  /** Present when BN taps were requested; layers push one entry each, in forward order. */
  readonly bn: BatchNormTap[] | undefined;
  /** Tap names requested by the caller. */
  readonly wanted: ReadonlySet<string>;
  /** Collected taps. */
  readonly taps: Record<string, tf.Tensor>;
}

/** Creates a context; throws a ConfigError for tap names the model does not offer. */
export function createContext(
  options:
    | {
        training?: boolean;
        bnStatistics?: 'running' | 'batch';
        bnOverride?: Readonly<Record<string, BatchNormStatistics>>;
        bnTaps?: boolean;
        taps?: readonly string[];
      }
    | undefined,
  available: readonly string[],
  modelName: string,
): ForwardContext {
  const wanted = new Set(options?.taps ?? []);
  for (const name of wanted) {
    if (!available.includes(name)) {
      throw new ConfigError(
        `Model '${modelName}' has no tap '${name}'. Available taps: ${available.join(', ')}.`,
        { field: 'taps', tap: name, available },
      );
    }
  }
  const training = options?.training ?? false;
  const batchStatistics = training || options?.bnStatistics === 'batch';
  if (options?.bnOverride && batchStatistics) {
    throw new ConfigError(
      `Model '${modelName}': bnOverride replaces the running statistics of eval mode; it cannot be combined with ` +
        `${training ? 'training: true' : "bnStatistics: 'batch'"}. Drop one of them.`,
      { field: 'bnOverride' },
    );
  }
  return {
    training,
    batchStatistics,
    bnOverride: options?.bnOverride,
    bn: options?.bnTaps ? [] : undefined,
    wanted,
    taps: {},
  };
}

/** Records `t` under `name` when the caller asked for it. */
export function tap(ctx: ForwardContext, name: string, t: tf.Tensor): void {
  if (ctx.wanted.has(name)) ctx.taps[name] = t;
}

/** Weight initialisation scheme of a conv/linear layer. */
export type InitScheme = 'torch' | 'kaimingFanOut' | 'truncNormal02';

/** `nn.Conv2d` with PyTorch-style symmetric zero padding; weight stored HWIO as `<name>.weight`. */
export class Conv2d {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | undefined;
  constructor(
    store: ParamStore,
    readonly name: string,
    readonly cfg: { inChannels: number; outChannels: number; kernel: number; stride?: number; padding?: number; bias?: boolean; init?: InitScheme },
    rng: Rng,
  ) {
    const { inChannels: i, outChannels: o, kernel: k } = cfg;
    const shape = [k, k, i, o];
    const fanIn = i * k * k;
    const scheme = cfg.init ?? 'torch';
    const w = scheme === 'kaimingFanOut' ? init.kaimingNormalFanOut(shape, o * k * k, rng)
      : scheme === 'truncNormal02' ? init.truncatedNormal(shape, 0.02, rng)
      : init.torchDefault(shape, fanIn, rng);
    this.weight = store.add(`${name}.weight`, w, 'conv');
    this.bias = cfg.bias ? store.add(`${name}.bias`, scheme === 'torch' ? init.torchDefault([o], fanIn, rng) : tf.zeros([o])) : undefined;
  }

  apply(x: tf.Tensor4D): tf.Tensor4D {
    const stride = this.cfg.stride ?? 1;
    const pad = this.cfg.padding ?? 0;
    const y = tf.conv2d(x, this.weight as tf.Tensor4D, stride, pad === 0 ? 'valid' : pad);
    return this.bias ? tf.add(y, this.bias) : y;
  }
}

/** `nn.Linear`; weight stored [in, out] as `<name>.weight` (PyTorch [out, in]). */
export class Linear {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable | undefined;
  constructor(
    store: ParamStore,
    readonly name: string,
    readonly cfg: { inFeatures: number; outFeatures: number; bias?: boolean; init?: InitScheme },
    rng: Rng,
  ) {
    const { inFeatures: i, outFeatures: o } = cfg;
    const scheme = cfg.init ?? 'torch';
    const w = scheme === 'truncNormal02' ? init.truncatedNormal([i, o], 0.02, rng) : init.torchDefault([i, o], i, rng);
    this.weight = store.add(`${name}.weight`, w, 'linear');
    this.bias = (cfg.bias ?? true)
      ? store.add(`${name}.bias`, scheme === 'torch' ? init.torchDefault([o], i, rng) : tf.zeros([o]))
      : undefined;
  }

  /** x: [..., in] → [..., out] (rank > 2 is flattened to 2-D for the matmul). */
  apply<T extends tf.Tensor>(x: T): T {
    const shape = x.shape;
    const x2 = shape.length === 2 ? (x as unknown as tf.Tensor2D) : tf.reshape(x, [-1, shape[shape.length - 1] as number]) as tf.Tensor2D;
    const y = linear(x2, this.weight as tf.Tensor2D, this.bias as tf.Tensor1D | undefined);
    return (shape.length === 2 ? y : tf.reshape(y, [...shape.slice(0, -1), this.cfg.outFeatures])) as T;
  }
}

/**
 * `nn.BatchNorm2d` (eps 1e-5, momentum 0.1). Training mode normalises with the batch mean and BIASED variance
 * and updates `running_var` with the UNBIASED variance (PyTorch semantics); eval mode uses the running stats.
 * With BN taps on, it reports its input's per-channel mean/biased variance over N,H,W and spatial mean [N, C].
 */
export class BatchNorm2d {
  readonly weight: tf.Variable | undefined;
  readonly bias: tf.Variable | undefined;
  readonly runningMean: tf.Variable;
  readonly runningVar: tf.Variable;
  constructor(
    store: ParamStore,
    readonly name: string,
    readonly channels: number,
    readonly opts: { eps?: number; momentum?: number; affine?: boolean } = {},
  ) {
    const affine = opts.affine ?? true;
    this.weight = affine ? store.add(`${name}.weight`, tf.ones([channels])) : undefined;
    this.bias = affine ? store.add(`${name}.bias`, tf.zeros([channels])) : undefined;
    this.runningMean = store.addBuffer(`${name}.running_mean`, tf.zeros([channels]));
    this.runningVar = store.addBuffer(`${name}.running_var`, tf.ones([channels]));
  }

  /**
   * Normalises `x` (batch statistics in training mode or with `batchStatistics`, else the running statistics or
   * `bnOverride`'s), then ReLU when `relu` (fused into eval mode's one pass: `channelAffine` of `@promptkd/core`).
   */
  apply(x: tf.Tensor4D, ctx: ForwardContext, relu = false): tf.Tensor4D {
    const eps = this.opts.eps ?? 1e-5;
    const momentum = this.opts.momentum ?? 0.1;
    let mean: tf.Tensor1D | undefined;
    let variance: tf.Tensor1D | undefined;
    // Plain training (no taps, whose statistics need gradients): the fused batchNormTraining op of @promptkd/core.
    let fusedY: tf.Tensor4D | undefined;
    // A tap also reports each sample's spatial means (CMI's contrastive feature): all three in one pass.
    let spatialMean: tf.Tensor2D | undefined;
    if (ctx.batchStatistics && !ctx.bn && this.weight && this.bias) {
      ({ y: fusedY, mean, variance } = batchNormTraining(x, this.weight, this.bias, eps));
    } else if (ctx.bn) {
      ({ mean, variance, instanceMean: spatialMean } = featureStatistics(x));
    } else if (ctx.batchStatistics) {
      ({ mean, variance } = channelMoments(x));
    }
    if (ctx.bn && mean && variance && spatialMean) {
      ctx.bn.push({
        name: this.name,
        mean,
        variance,
        runningMean: tf.clone(this.runningMean) as tf.Tensor1D,
        runningVar: tf.clone(this.runningVar) as tf.Tensor1D,
        spatialMean,
      });
    }
    let y: tf.Tensor4D;
    if (ctx.batchStatistics && mean && variance) {
      if (ctx.training) {
        const [n, h, w] = x.shape;
        const count = n * h * w;
        const bm = mean;
        const bv = variance;
        tf.tidy(() => {
          const unbiased = count > 1 ? tf.mul(bv, count / (count - 1)) : bv;
          this.runningMean.assign(tf.add(tf.mul(this.runningMean, 1 - momentum), tf.mul(bm, momentum)));
          this.runningVar.assign(tf.add(tf.mul(this.runningVar, 1 - momentum), tf.mul(unbiased, momentum)));
        });
      }
      if (fusedY) {
        y = fusedY;
      } else {
        y = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, eps)));
        if (this.weight) y = tf.mul(y, this.weight);
        if (this.bias) y = tf.add(y, this.bias);
      }
      if (relu) y = tf.relu(y);
    } else {
      const { mean: usedMean, variance: usedVar } = ctx.bnOverride ? this.override(ctx.bnOverride, x.shape[0]) : { mean: this.runningMean, variance: this.runningVar };
      // [C], or [N, C] for per-row statistics: the same arithmetic per element either way
      let scale: tf.Tensor = tf.rsqrt(tf.add(usedVar, eps));
      if (this.weight) scale = tf.mul(scale, this.weight);
      let shift: tf.Tensor = tf.neg(tf.mul(usedMean, scale));
      if (this.bias) shift = tf.add(shift, this.bias);
      y = channelAffine(x, scale, shift, { relu });
    }
    return y;
  }

  /** This layer's entry of `ApplyOptions.bnOverride`, checked: `[C]` for every row, or `[N, C]` per row. */
  private override(stats: Readonly<Record<string, BatchNormStatistics>>, rows: number): { mean: tf.Tensor; variance: tf.Tensor } {
    const s = stats[this.name];
    if (!s) {
      throw new ConfigError(
        `bnOverride has no statistics for BatchNorm layer '${this.name}' (given: ${Object.keys(stats).join(', ') || 'none'}). ` +
          'Give every BN layer of the model, e.g. from bnPopulationStatistics of the same model.',
        { field: 'bnOverride', layer: this.name },
      );
    }
    const perRow = s.mean.rank === 2 || s.variance.rank === 2;
    const fits = (t: tf.Tensor) => (perRow ? t.rank === 2 && t.shape[0] === rows && t.shape[1] === this.channels : t.rank === 1 && t.size === this.channels);
    if (!fits(s.mean) || !fits(s.variance)) {
      throw new ShapeError(
        `bnOverride '${this.name}': mean and variance need [${this.channels}] (every row) or [${rows}, ${this.channels}] (one per row), ` +
          `got [${s.mean.shape.join(', ')}] and [${s.variance.shape.join(', ')}].`,
        { field: 'bnOverride', layer: this.name, expected: this.channels },
      );
    }
    return s;
  }
}

/** `nn.LayerNorm` over the last axis. */
export class LayerNorm {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;
  constructor(store: ParamStore, readonly name: string, readonly dim: number, readonly eps = 1e-5) {
    this.weight = store.add(`${name}.weight`, tf.ones([dim]));
    this.bias = store.add(`${name}.bias`, tf.zeros([dim]));
  }

  /** Fused where the backend has the kernel (see `layerNorm` of `@promptkd/core`). */
  apply<T extends tf.Tensor>(x: T): T {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

/** Exact (erf) GELU, PyTorch's `nn.GELU()` default: x·½·(1 + erf(x/√2)) (`gelu` of `@promptkd/core`, fused where the backend has the kernel). */
export { gelu } from '@promptkd/core';

/** `nn.MaxPool2d(kernel, stride, padding)`; padded positions never win (−∞ padding, as PyTorch). */
export function maxPool2d(x: tf.Tensor4D, kernel: number, stride: number, padding = 0): tf.Tensor4D {
  return tf.maxPool(x, kernel, stride, padding === 0 ? 'valid' : padding);
}

/** Global average pooling NHWC → [N, C] (`adaptive_avg_pool2d(x, 1)` + flatten); `globalAvgPool` of `@promptkd/core`. */
export { globalAvgPool } from '@promptkd/core';

/**
 * `nn.AdaptiveAvgPool2d((outH, outW))` in NHWC: bin i spans [floor(i·H/outH), ceil((i+1)·H/outH)).
 * Uses plain pooling when H, W are multiples of the output size and slicing otherwise (1×1 → replicated).
 */
export function adaptiveAvgPool2d(x: tf.Tensor4D, outH: number, outW: number): tf.Tensor4D {
  const [, h, w] = x.shape;
  if (h === outH && w === outW) return x;
  if (h % outH === 0 && w % outW === 0) {
    return tf.avgPool(x, [h / outH, w / outW], [h / outH, w / outW], 'valid');
  }
  if (h === 1 && w === 1) return tf.tile(x, [1, outH, outW, 1]);
  const rows: tf.Tensor4D[] = [];
  for (let i = 0; i < outH; i++) {
    const h0 = Math.floor((i * h) / outH);
    const h1 = Math.ceil(((i + 1) * h) / outH);
    const cols: tf.Tensor4D[] = [];
    for (let j = 0; j < outW; j++) {
      const w0 = Math.floor((j * w) / outW);
      const w1 = Math.ceil(((j + 1) * w) / outW);
      cols.push(tf.mean(tf.slice(x, [0, h0, w0, 0], [-1, h1 - h0, w1 - w0, -1]), [1, 2], true) as tf.Tensor4D);
    }
    rows.push(tf.concat(cols, 2));
  }
  return tf.concat(rows, 1);
}

/**
 * Nearest-neighbour ×2 upsampling (`nn.Upsample(scale_factor=2)`). Forward: two 4-D concats + reshapes; backward:
 * the exact adjoint, a 2×2 sum pool (4·avgPool). A custom gradient because the stock concat gradient (SplitV on
 * 5-D tensors) takes seconds per call on wasm.
 */
export const upsampleNearest2x: (x: tf.Tensor4D) => tf.Tensor4D = tf.customGrad(((x: tf.Tensor) => {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const wide = tf.reshape(tf.concat([x, x], 3), [n, h, 2 * w, c]);
  const value = tf.reshape(tf.concat([wide, wide], 2), [n, 2 * h, 2 * w, c]);
  return { value, gradFunc: (dy: tf.Tensor) => tf.mul(tf.avgPool(dy as tf.Tensor4D, 2, 2, 'valid'), 4) };
}) as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (x: tf.Tensor4D) => tf.Tensor4D;

/** Applies (x − mean) / std per channel when a normalisation is given. */
export function normalizeInput(x: tf.Tensor4D, norm: { mean: readonly number[]; std: readonly number[] } | undefined): tf.Tensor4D {
  if (!norm) return x;
  return tf.div(tf.sub(x, tf.tensor1d([...norm.mean])), tf.tensor1d([...norm.std]));
}

/** Checks that `x` is NHWC with `channels` channels. */
export function checkImageInput(x: tf.Tensor, channels: number, modelName: string): void {
  if (x.rank !== 4 || x.shape[3] !== channels) {
    throw new ShapeError(
      `Model '${modelName}' expects NHWC images [N, H, W, ${channels}], got [${x.shape.join(', ')}]. ` +
        'Transpose NCHW inputs with x.transpose([0, 2, 3, 1]).',
      { expected: ['N', 'H', 'W', channels], actual: x.shape },
    );
  }
}
