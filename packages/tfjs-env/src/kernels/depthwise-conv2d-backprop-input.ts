import * as tf from '@tensorflow/tfjs';
import { convWithPads, dilateSpatial, free, pair, reshape, runWasm, type KernelArgs } from './wasm-backend.js';

/**
 * `DepthwiseConv2dNativeBackpropInput` (dx of a depthwise conv) for wasm, composed from the wasm depthwise conv:
 * with the filter W : [kh,kw,C,m] read as C·m channels of multiplier 1,
 *
 *   dx = Σ_q reshape(depthwiseConv2d(dilate_s(dy), reverse(W,[0,1]) : [kh,kw,C·m,1], dilation d), [..,C,m])
 *
 * (the sum over the multiplier q is a wasm `Sum`, skipped when m = 1). Stride > 1 dilates dy with zeros.
 */
export function depthwiseConv2dNativeBackpropInput(args: KernelArgs): tf.TensorInfo {
  const { inputs, backend, attrs = {} } = args;
  const dy = inputs.dy as tf.TensorInfo;
  const filter = inputs.filter as tf.TensorInfo;
  const inputShape = attrs.inputShape as [number, number, number, number];
  const s = pair(attrs.strides);
  const d = pair(attrs.dilations);
  const [kh, kw, c, m] = filter.shape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    s,
    d,
    attrs.pad as 'same',
    attrs.dimRoundingMode as 'floor' | undefined,
    true,
  );
  const [n, h, w] = inputShape;
  const [, ho, wo] = dy.shape as [number, number, number, number];
  const rev = kh > 1 || kw > 1 ? runWasm('Reverse', { x: filter }, backend, { dims: [0, 1] }) : undefined;
  const wf = reshape(backend, rev ?? filter, [kh, kw, c * m, 1]);
  free(backend, rev);
  const dyd = dilateSpatial(backend, dy, s);
  const pt = (kh - 1) * d[0] - info.padInfo.top;
  const pl = (kw - 1) * d[1] - info.padInfo.left;
  const pads = {
    top: pt,
    left: pl,
    bottom: h + (kh - 1) * d[0] - pt - ho * s[0],
    right: w + (kw - 1) * d[1] - pl - wo * s[1],
  };
  const z = convWithPads(backend, 'DepthwiseConv2dNative', dyd, wf, pads, [1, 1], d);
  free(backend, dyd, wf);
  if (m === 1) return z;
  const z5 = reshape(backend, z, [n, h, w, c, m]);
  free(backend, z);
  const out = runWasm('Sum', { x: z5 }, backend, { axis: [4], keepDims: false });
  free(backend, z5);
  return out;
}
