import * as tf from '@tensorflow/tfjs';
import {
  ADAM_UPDATE_KERNEL,
  BATCH_NORM_TRAIN_GRAD_KERNEL,
  BATCH_NORM_TRAIN_KERNEL,
  CHANNEL_AFFINE_GRAD_KERNEL,
  CHANNEL_AFFINE_KERNEL,
  CHANNEL_MOMENTS_GRAD_KERNEL,
  CHANNEL_MOMENTS_KERNEL,
  FEATURE_STATISTICS_GRAD_KERNEL,
  FEATURE_STATISTICS_KERNEL,
  GELU_GRAD_KERNEL,
  GELU_KERNEL,
  LAYER_NORM_GRAD_KERNEL,
  LAYER_NORM_KERNEL,
  MOMENTUM_UPDATE_KERNEL,
} from '@promptkd/core';
import type { KernelArgs } from '../wasm-backend.js';
import { floatOffset, heapOf, type NativeKernelsAddon } from './heap.js';
import { addonFunction, type NativeKernel } from './native-util.js';

type GeluFn = (heap: Float32Array, n: number, xOff: number, yOff: number) => void;
type GeluGradFn = (heap: Float32Array, n: number, dyOff: number, xOff: number, dxOff: number) => void;
type LayerNormFn = (heap: Float32Array, rows: number, c: number, xOff: number, gOff: number, bOff: number, yOff: number, eps: number) => void;
type LayerNormGradFn = (
  heap: Float32Array,
  rows: number,
  c: number,
  dyOff: number,
  xOff: number,
  gOff: number,
  dxOff: number,
  dgOff: number,
  dbOff: number,
  eps: number,
) => void;

/** Builds a fused kernel, or undefined when this build of the addon lacks its functions. */
type FusedFactory = (addon: NativeKernelsAddon) => NativeKernel | undefined;

type ChannelAffineFn = (heap: Float32Array, n: number, p: number, c: number, perRow: number, relu: number, o0: number, o1: number, o2: number, o3: number) => void;

/**
 * `channelAffine` of `@promptkd/core` (`big` = x, or dy then y for the gradient; `scale` and `shift` [C] or [N, C]):
 * one pass over [N, P, C].
 */
function channelAffineKernel(fn: 'channelAffine' | 'channelAffineGrad'): FusedFactory {
  return (addon) => {
    const run = addonFunction<ChannelAffineFn>(addon, fn);
    if (!run) return undefined;
    return (args) => {
      const b = args.backend;
      const ins = args.inputs as Record<string, tf.TensorInfo>;
      // the addon's operand order: x, scale, shift (forward) or dy, y, scale (gradient)
      const [first, second, third] = (fn === 'channelAffine' ? ['x', 'scale', 'shift'] : ['dy', 'y', 'scale']).map((k) => ins[k] as tf.TensorInfo) as [tf.TensorInfo, tf.TensorInfo, tf.TensorInfo];
      const x = first;
      const scale = ins.scale as tf.TensorInfo;
      const out = b.makeOutput(x.shape, 'float32');
      const total = tf.util.sizeFromShape(x.shape);
      if (total === 0) return out;
      const n = x.shape[0] as number;
      const c = x.shape[x.shape.length - 1] as number;
      const relu = args.attrs?.relu ? 1 : 0;
      const perRow = scale.shape.length === 2 ? 1 : 0;
      const off = (t: tf.TensorInfo) => floatOffset(b, t);
      run(heapOf(args), n, total / (n * c), c, perRow, relu, off(first), off(second), off(third), off(out));
      return out;
    };
  };
}


const gelu: FusedFactory = (addon) => {
  const run = addonFunction<GeluFn>(addon, 'gelu');
  if (!run) return undefined;
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const out = args.backend.makeOutput(x.shape, 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    if (n > 0) run(heapOf(args), n, floatOffset(args.backend, x), floatOffset(args.backend, out));
    return out;
  };
};

const geluGrad: FusedFactory = (addon) => {
  const run = addonFunction<GeluGradFn>(addon, 'geluGrad');
  if (!run) return undefined;
  return (args) => {
    const { dy, x } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo };
    const out = args.backend.makeOutput(x.shape, 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    const b = args.backend;
    if (n > 0) run(heapOf(args), n, floatOffset(b, dy), floatOffset(b, x), floatOffset(b, out));
    return out;
  };
};

const layerNorm: FusedFactory = (addon) => {
  const run = addonFunction<LayerNormFn>(addon, 'layerNorm');
  if (!run) return undefined;
  return (args) => {
    const { x, gamma, beta } = args.inputs as { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
    const b = args.backend;
    const c = x.shape[x.shape.length - 1] as number;
    const out = b.makeOutput(x.shape, 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    const eps = (args.attrs?.epsilon as number | undefined) ?? 1e-5;
    if (n > 0) run(heapOf(args), n / c, c, floatOffset(b, x), floatOffset(b, gamma), floatOffset(b, beta), floatOffset(b, out), eps);
    return out;
  };
};

const layerNormGrad: FusedFactory = (addon) => {
  const run = addonFunction<LayerNormGradFn>(addon, 'layerNormGrad');
  if (!run) return undefined;
  return (args) => {
    const { dy, x, gamma } = args.inputs as { dy: tf.TensorInfo; x: tf.TensorInfo; gamma: tf.TensorInfo };
    const b = args.backend;
    const c = x.shape[x.shape.length - 1] as number;
    const dx = b.makeOutput(x.shape, 'float32');
    const dg = b.makeOutput(gamma.shape, 'float32');
    const db = b.makeOutput(gamma.shape, 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    const eps = (args.attrs?.epsilon as number | undefined) ?? 1e-5;
    const heap = heapOf(args);
    if (n > 0) {
      run(heap, n / c, c, floatOffset(b, dy), floatOffset(b, x), floatOffset(b, gamma), floatOffset(b, dx), floatOffset(b, dg), floatOffset(b, db), eps);
    } else {
      heap.fill(0, floatOffset(b, dg), floatOffset(b, dg) + c);
      heap.fill(0, floatOffset(b, db), floatOffset(b, db) + c);
    }
    return [dx, dg, db];
  };
};

/** An addon function over `[rows, c]` data: the heap, the sizes, then offsets (and eps where it takes one). */
type RowsByChannelsFn = (heap: Float32Array, rows: number, c: number, ...offsetsAndEps: number[]) => void;

const batchNormTrain: FusedFactory = (addon) => {
  const run = addonFunction<RowsByChannelsFn>(addon, 'batchNormTrain');
  if (!run) return undefined;
  return (args) => {
    const { x, gamma, beta } = args.inputs as { x: tf.TensorInfo; gamma: tf.TensorInfo; beta: tf.TensorInfo };
    const b = args.backend;
    const c = x.shape[x.shape.length - 1] as number;
    const y = b.makeOutput(x.shape, 'float32');
    const mean = b.makeOutput([c], 'float32');
    const variance = b.makeOutput([c], 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    const eps = (args.attrs?.epsilon as number | undefined) ?? 1e-5;
    if (n === 0) throw new Error('promptkd: batchNormTraining of an empty batch has no statistics');
    run(heapOf(args), n / c, c, floatOffset(b, x), floatOffset(b, gamma), floatOffset(b, beta), floatOffset(b, y), floatOffset(b, mean), floatOffset(b, variance), eps);
    return [y, mean, variance];
  };
};

const batchNormTrainGrad: FusedFactory = (addon) => {
  const run = addonFunction<RowsByChannelsFn>(addon, 'batchNormTrainGrad');
  if (!run) return undefined;
  return (args) => {
    const { dy, x, gamma, mean, variance } = args.inputs as Record<'dy' | 'x' | 'gamma' | 'mean' | 'variance', tf.TensorInfo>;
    const b = args.backend;
    const c = x.shape[x.shape.length - 1] as number;
    const dx = b.makeOutput(x.shape, 'float32');
    const dg = b.makeOutput([c], 'float32');
    const db = b.makeOutput([c], 'float32');
    const eps = (args.attrs?.epsilon as number | undefined) ?? 1e-5;
    const o = (t: tf.TensorInfo): number => floatOffset(b, t);
    run(heapOf(args), tf.util.sizeFromShape(x.shape) / c, c, o(dy), o(x), o(gamma), o(mean), o(variance), o(dx), o(dg), o(db), eps);
    return [dx, dg, db];
  };
};

const channelMoments: FusedFactory = (addon) => {
  const run = addonFunction<RowsByChannelsFn>(addon, 'channelMoments');
  if (!run) return undefined;
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const b = args.backend;
    const c = x.shape[x.shape.length - 1] as number;
    const mean = b.makeOutput([c], 'float32');
    const variance = b.makeOutput([c], 'float32');
    const n = tf.util.sizeFromShape(x.shape);
    if (n === 0) throw new Error('promptkd: channelMoments of an empty tensor has no statistics');
    run(heapOf(args), n / c, c, floatOffset(b, x), floatOffset(b, mean), floatOffset(b, variance));
    return [mean, variance];
  };
};

const channelMomentsGrad: FusedFactory = (addon) => {
  const run = addonFunction<RowsByChannelsFn>(addon, 'channelMomentsGrad');
  if (!run) return undefined;
  return (args) => {
    const { dMean, dVariance, x, mean } = args.inputs as Record<'dMean' | 'dVariance' | 'x' | 'mean', tf.TensorInfo>;
    const b = args.backend;
    const c = x.shape[x.shape.length - 1] as number;
    const dx = b.makeOutput(x.shape, 'float32');
    const o = (t: tf.TensorInfo): number => floatOffset(b, t);
    run(heapOf(args), tf.util.sizeFromShape(x.shape) / c, c, o(dMean), o(dVariance), o(x), o(mean), o(dx));
    return dx;
  };
};

/** An addon function over `[N, P, C]` data (P = H·W): the heap, the sizes, then offsets. */
type SamplesByPositionsFn = (heap: Float32Array, n: number, p: number, c: number, ...offsets: number[]) => void;

/** `[N, H·W, C]` of an NHWC tensor. */
function samplesPositionsChannels(x: tf.TensorInfo): [number, number, number] {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  return [n, h * w, c];
}

const featureStatistics: FusedFactory = (addon) => {
  const run = addonFunction<SamplesByPositionsFn>(addon, 'featureStatistics');
  if (!run) return undefined;
  return (args) => {
    const x = args.inputs.x as tf.TensorInfo;
    const b = args.backend;
    const [n, p, c] = samplesPositionsChannels(x);
    const outs = [b.makeOutput([c], 'float32'), b.makeOutput([c], 'float32'), b.makeOutput([n, c], 'float32')];
    if (n * p * c === 0) throw new Error('promptkd: featureStatistics of an empty tensor has no statistics');
    run(heapOf(args), n, p, c, floatOffset(b, x), ...outs.map((t) => floatOffset(b, t)));
    return outs;
  };
};

const featureStatisticsGrad: FusedFactory = (addon) => {
  const run = addonFunction<SamplesByPositionsFn>(addon, 'featureStatisticsGrad');
  if (!run) return undefined;
  return (args) => {
    const ins = args.inputs as Record<'dMean' | 'dVariance' | 'dInstanceMean' | 'x' | 'mean', tf.TensorInfo>;
    const b = args.backend;
    const [n, p, c] = samplesPositionsChannels(ins.x);
    const dx = b.makeOutput(ins.x.shape, 'float32');
    const o = (t: tf.TensorInfo): number => floatOffset(b, t);
    run(heapOf(args), n, p, c, o(ins.dMean), o(ins.dVariance), o(ins.dInstanceMean), o(ins.x), o(ins.mean), o(dx));
    return dx;
  };
};

type UpdateFn = (heap: Float32Array, n: number, ...offsetsAndHyperParameters: Array<number | boolean>) => void;

/** Fresh float32 outputs shaped like `x`, one per name. */
function outputsLike(args: KernelArgs, x: tf.TensorInfo, count: number): tf.TensorInfo[] {
  return Array.from({ length: count }, () => args.backend.makeOutput(x.shape, 'float32'));
}

const adamUpdate: FusedFactory = (addon) => {
  const run = addonFunction<UpdateFn>(addon, 'adamUpdate');
  if (!run) return undefined;
  return (args) => {
    const { x, g, m, v } = args.inputs as Record<'x' | 'g' | 'm' | 'v', tf.TensorInfo>;
    const a = args.attrs as unknown as { stepSize: number; beta1: number; beta2: number; sqrtC2: number; epsilon: number };
    const outs = outputsLike(args, x, 3);
    const n = tf.util.sizeFromShape(x.shape);
    const o = (t: tf.TensorInfo): number => floatOffset(args.backend, t);
    if (n > 0) run(heapOf(args), n, o(x), o(g), o(m), o(v), o(outs[0]!), o(outs[1]!), o(outs[2]!), a.stepSize, a.beta1, a.beta2, a.sqrtC2, a.epsilon);
    return outs;
  };
};

const momentumUpdate: FusedFactory = (addon) => {
  const run = addonFunction<UpdateFn>(addon, 'momentumUpdate');
  if (!run) return undefined;
  return (args) => {
    const { x, g, accumulation } = args.inputs as Record<'x' | 'g' | 'accumulation', tf.TensorInfo>;
    const a = args.attrs as unknown as { learningRate: number; momentum: number; nesterov: boolean };
    const outs = outputsLike(args, x, 2);
    const n = tf.util.sizeFromShape(x.shape);
    const o = (t: tf.TensorInfo): number => floatOffset(args.backend, t);
    if (n > 0) run(heapOf(args), n, o(x), o(g), o(accumulation), o(outs[0]!), o(outs[1]!), a.learningRate, a.momentum, a.nesterov);
    return outs;
  };
};

/**
 * Kernels the wasm backend does not have at all, added with the native addon: `@promptkd/core`'s fused GELU, layer
 * norm, training-mode batch norm and the per-channel affine map of eval-mode batch norm (forward and backward), which
 * `gelu()`, `layerNorm()`, `batchNormTraining()` and `channelAffine()` use
 * when the active backend registers them, `channelMoments()` and `featureStatistics()` (the differentiable BN-input
 * statistics, the latter with each sample's spatial means), and the
 * fused Adam / momentum updates of `adamUpdate()` and `momentumUpdate()`.
 */
export const FUSED_KERNELS: ReadonlyMap<string, FusedFactory> = new Map<string, FusedFactory>([
  [GELU_KERNEL, gelu],
  [GELU_GRAD_KERNEL, geluGrad],
  [LAYER_NORM_KERNEL, layerNorm],
  [LAYER_NORM_GRAD_KERNEL, layerNormGrad],
  [BATCH_NORM_TRAIN_KERNEL, batchNormTrain],
  [BATCH_NORM_TRAIN_GRAD_KERNEL, batchNormTrainGrad],
  [CHANNEL_MOMENTS_KERNEL, channelMoments],
  [CHANNEL_MOMENTS_GRAD_KERNEL, channelMomentsGrad],
  [FEATURE_STATISTICS_KERNEL, featureStatistics],
  [FEATURE_STATISTICS_GRAD_KERNEL, featureStatisticsGrad],
  [CHANNEL_AFFINE_KERNEL, channelAffineKernel('channelAffine')],
  [CHANNEL_AFFINE_GRAD_KERNEL, channelAffineKernel('channelAffineGrad')],
  [ADAM_UPDATE_KERNEL, adamUpdate],
  [MOMENTUM_UPDATE_KERNEL, momentumUpdate],
]);
