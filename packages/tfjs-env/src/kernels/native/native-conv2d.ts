import * as tf from '@tensorflow/tfjs';
import { pair, type KernelArgs, type WasmBackend } from '../wasm-backend.js';
import { floatOffset, heapF32, type NativeKernelsAddon } from './heap.js';

type DimRounding = 'floor' | 'round' | 'ceil' | undefined;

/** The 15 geometry numbers the addon's convolutions take, from tfjs's own conv info. */
function geometry(info: tf.backend_util.Conv2DInfo): number[] {
  return [
    info.batchSize,
    info.inHeight,
    info.inWidth,
    info.inChannels,
    info.outChannels,
    info.filterHeight,
    info.filterWidth,
    info.strideHeight,
    info.strideWidth,
    info.dilationHeight,
    info.dilationWidth,
    info.padInfo.top,
    info.padInfo.left,
    info.outHeight,
    info.outWidth,
  ];
}

function convInfo(xShape: number[], filterShape: number[], attrs: tf.NamedAttrMap, dilations: [number, number]): tf.backend_util.Conv2DInfo {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    pair(attrs.strides),
    dilations,
    attrs.pad as 'same' | 'valid' | number | tf.backend_util.ExplicitPadding,
    attrs.dimRoundingMode as DimRounding,
  );
}

function usable(backend: WasmBackend, attrs: tf.NamedAttrMap, ...ts: tf.TensorInfo[]): boolean {
  const fmt = attrs.dataFormat;
  return (fmt === undefined || fmt === 'NHWC') && ts.every((t) => t.dtype === 'float32' && t.shape.length === 4 && tf.util.sizeFromShape(t.shape) > 0) && !!heapF32(backend);
}

/**
 * `Conv2D` (NHWC) on the native addon: im2col in bounded chunks + OpenBLAS SGEMM; 1×1 stride-1 convs are a
 * single GEMM. Other layouts/dtypes go to `fallback`.
 */
export function nativeConv2D(addon: NativeKernelsAddon, fallback: tf.KernelFunc) {
  return (args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] => {
    const { inputs, backend, attrs = {} } = args;
    const x = inputs.x as tf.TensorInfo;
    const w = inputs.filter as tf.TensorInfo;
    if (!usable(backend, attrs, x, w)) return fallback(args as unknown as Parameters<tf.KernelFunc>[0]);
    const info = convInfo(x.shape, w.shape, attrs, pair(attrs.dilations));
    const y = backend.makeOutput([info.batchSize, info.outHeight, info.outWidth, info.outChannels], 'float32');
    const heap = heapF32(backend) as Float32Array;
    addon.conv2d(heap, ...geometry(info), floatOffset(backend, x), floatOffset(backend, w), floatOffset(backend, y));
    return y;
  };
}

/** `Conv2DBackpropInput` (NHWC): dy·wᵀ per chunk, scattered back with col2im. */
export function nativeConv2DBackpropInput(addon: NativeKernelsAddon, fallback: tf.KernelFunc) {
  return (args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] => {
    const { inputs, backend, attrs = {} } = args;
    const dy = inputs.dy as tf.TensorInfo;
    const w = inputs.filter as tf.TensorInfo;
    if (!usable(backend, attrs, dy, w)) return fallback(args as unknown as Parameters<tf.KernelFunc>[0]);
    const info = convInfo(attrs.inputShape as number[], w.shape, attrs, [1, 1]);
    const dx = backend.makeOutput([info.batchSize, info.inHeight, info.inWidth, info.inChannels], 'float32');
    const heap = heapF32(backend) as Float32Array;
    addon.conv2dBackpropInput(heap, ...geometry(info), floatOffset(backend, dx), floatOffset(backend, w), floatOffset(backend, dy));
    return dx;
  };
}

/** `Conv2DBackpropFilter` (NHWC): im2col(x)ᵀ·dy, accumulated over chunks. */
export function nativeConv2DBackpropFilter(addon: NativeKernelsAddon, fallback: tf.KernelFunc) {
  return (args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] => {
    const { inputs, backend, attrs = {} } = args;
    const x = inputs.x as tf.TensorInfo;
    const dy = inputs.dy as tf.TensorInfo;
    if (!usable(backend, attrs, x, dy)) return fallback(args as unknown as Parameters<tf.KernelFunc>[0]);
    const filterShape = attrs.filterShape as number[];
    const info = convInfo(x.shape, filterShape, attrs, [1, 1]);
    const dw = backend.makeOutput(filterShape, 'float32');
    const heap = heapF32(backend) as Float32Array;
    addon.conv2dBackpropFilter(heap, ...geometry(info), floatOffset(backend, x), floatOffset(backend, dw), floatOffset(backend, dy));
    return dw;
  };
}
