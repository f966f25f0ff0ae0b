import * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from '../wasm-backend.js';
import { floatOffset, heapF32, type NativeKernelFactory } from './heap.js';
import { addonFunction, delegate, type NativeKernel } from './native-util.js';

type MaxPoolGradFn = (heap: Float32Array, ...geometryAndOffsets: number[]) => void;

/**
 * `MaxPoolGrad` (NHWC, float32) on the addon: each dy to the first maximal input of its window, as the cpu
 * kernel; images in parallel. Dilated pools, windows over 256 pixels and other dtypes go to the fallback.
 */
export const nativeMaxPoolGrad: NativeKernelFactory = (addon, fallback): NativeKernel => {
  const run = addonFunction<MaxPoolGradFn>(addon, 'maxPoolGrad');
  return (args: KernelArgs) => {
    const { inputs, backend, attrs = {} } = args;
    const dy = inputs.dy as tf.TensorInfo;
    const x = inputs.input as tf.TensorInfo;
    if (!run || x.dtype !== 'float32' || dy.dtype !== 'float32' || x.shape.length !== 4 || !heapF32(backend)) return delegate(fallback, args);
    const info = tf.backend_util.computePool2DInfo(
      x.shape as [number, number, number, number],
      attrs.filterSize as [number, number],
      attrs.strides as [number, number],
      1,
      attrs.pad as 'same',
      attrs.dimRoundingMode as 'floor' | undefined,
    );
    if (info.effectiveFilterHeight * info.effectiveFilterWidth > 256 || info.dilationHeight !== 1 || info.dilationWidth !== 1) return delegate(fallback, args);
    const dx = backend.makeOutput(x.shape, 'float32');
    if (tf.util.sizeFromShape(x.shape) === 0) return dx;
    run(
      heapF32(backend) as Float32Array,
      info.batchSize,
      info.inHeight,
      info.inWidth,
      info.inChannels,
      info.outHeight,
      info.outWidth,
      info.strideHeight,
      info.strideWidth,
      info.effectiveFilterHeight,
      info.effectiveFilterWidth,
      info.padInfo.top,
      info.padInfo.left,
      floatOffset(backend, x),
      floatOffset(backend, dy),
      floatOffset(backend, dx),
    );
    return dx;
  };
};
