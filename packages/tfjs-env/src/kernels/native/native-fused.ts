import * as tf from '@tensorflow/tfjs';
import {
  BATCH_NORM_TRAIN_GRAD_KERNEL,
  BATCH_NORM_TRAIN_KERNEL,
  GELU_GRAD_KERNEL,
  GELU_KERNEL,
  LAYER_NORM_GRAD_KERNEL,
  LAYER_NORM_KERNEL,
} from '@promptkd/core';
import type { KernelArgs } from '../wasm-backend.js';
import { floatOffset, heapF32, type NativeKernelsAddon } from './heap.js';
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

function heapOf(args: KernelArgs): Float32Array {
  const heap = heapF32(args.backend);
  if (!heap) throw new Error('promptkd: the wasm backend does not expose its heap; the fused kernels need it');
  return heap;
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

type BatchNormTrainFn = (heap: Float32Array, rows: number, c: number, ...offsetsAndEps: number[]) => void;

const batchNormTrain: FusedFactory = (addon) => {
  const run = addonFunction<BatchNormTrainFn>(addon, 'batchNormTrain');
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
  const run = addonFunction<BatchNormTrainFn>(addon, 'batchNormTrainGrad');
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

/**
 * Kernels the wasm backend does not have at all, added with the native addon: `@promptkd/core`'s fused GELU, layer
 * norm and training-mode batch norm (forward and backward), which `gelu()`, `layerNorm()` and `batchNormTraining()` use when the active backend registers them.
 */
export const FUSED_KERNELS: ReadonlyMap<string, FusedFactory> = new Map<string, FusedFactory>([
  [GELU_KERNEL, gelu],
  [GELU_GRAD_KERNEL, geluGrad],
  [LAYER_NORM_KERNEL, layerNorm],
  [LAYER_NORM_GRAD_KERNEL, layerNormGrad],
  [BATCH_NORM_TRAIN_KERNEL, batchNormTrain],
  [BATCH_NORM_TRAIN_GRAD_KERNEL, batchNormTrainGrad],
]);
