import * as tf from '@tensorflow/tfjs';
import { convWithPads, free, pair, reshape, runWasm, transpose, type KernelArgs } from './wasm-backend.js';

/**
 * `DepthwiseConv2dNativeBackpropFilter` (dW of a depthwise conv) for wasm: the "conv trick" with every
 * (image, channel) pair as its own depthwise channel,
 *
 *   dW[a,b,c,q] = Σ_n depthwiseConv2d(transpose(x,[1,2,0,3]) : [1,H,W,N·C],
 *                                     transpose(dy,[1,2,0,3]) : [Ho,Wo,N·C,m],
 *                                     strides = d, dilations = s)[0,a,b,(n,c,q)]
 *
 * followed by a wasm `Sum` over n (skipped when N = 1).
 */
export function depthwiseConv2dNativeBackpropFilter(args: KernelArgs): tf.TensorInfo {
  const { inputs, backend, attrs = {} } = args;
  const x = inputs.x as tf.TensorInfo;
  const dy = inputs.dy as tf.TensorInfo;
  const filterShape = attrs.filterShape as [number, number, number, number];
  const s = pair(attrs.strides);
  const d = pair(attrs.dilations);
  const [kh, kw, c, m] = filterShape;
  const [n, h, w] = x.shape as [number, number, number, number];
  const [, ho, wo] = dy.shape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    s,
    d,
    attrs.pad as 'same',
    attrs.dimRoundingMode as 'floor' | undefined,
    true,
  );
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const pads = {
    top,
    left,
    bottom: (kh - 1) * d[0] + (ho - 1) * s[0] + 1 - top - h,
    right: (kw - 1) * d[1] + (wo - 1) * s[1] + 1 - left - w,
  };
  const xT = transpose(backend, x, [1, 2, 0, 3]);
  const xR = reshape(backend, xT, [1, h, w, n * c]);
  free(backend, xT);
  const dyT = transpose(backend, dy, [1, 2, 0, 3]);
  const dyR = reshape(backend, dyT, [ho, wo, n * c, m]);
  free(backend, dyT);
  const g = convWithPads(backend, 'DepthwiseConv2dNative', xR, dyR, pads, d, s);
  free(backend, xR, dyR);
  const g4 = reshape(backend, g, [kh, kw, n, c * m]);
  free(backend, g);
  let summed: tf.TensorInfo;
  if (n === 1) {
    summed = g4;
  } else {
    summed = runWasm('Sum', { x: g4 }, backend, { axis: [2], keepDims: false });
    free(backend, g4);
  }
  const out = reshape(backend, summed, [kh, kw, c, m]);
  free(backend, summed);
  return out;
}
