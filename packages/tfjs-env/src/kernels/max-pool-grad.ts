import * as tf from '@tensorflow/tfjs';
import type { KernelArgs } from './wasm-backend.js';

/**
 * `MaxPoolGrad` for wasm (NHWC): one pass over the pooling windows that routes each dy to the FIRST maximal
 * input of its window (row-major, as TF.js's cpu kernel), so the cost is outputs × window reads. The stock wasm
 * kernel instead loops over every input pixel and all windows covering it.
 */
export function maxPoolGrad(args: KernelArgs): tf.TensorInfo {
  const { inputs, backend, attrs = {} } = args;
  const dy = inputs.dy as tf.TensorInfo;
  const x = inputs.input as tf.TensorInfo;
  const info = tf.backend_util.computePool2DInfo(
    x.shape as [number, number, number, number],
    attrs.filterSize as [number, number],
    attrs.strides as [number, number],
    1,
    attrs.pad as 'same',
    attrs.dimRoundingMode as 'floor' | undefined,
  );
  const { batchSize, inHeight, inWidth, inChannels: c, outHeight, outWidth, strideHeight, strideWidth } = info;
  const fh = info.effectiveFilterHeight;
  const fw = info.effectiveFilterWidth;
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const dx = backend.makeOutput(x.shape, 'float32');
  const out = backend.typedArrayFromHeap(dx) as Float32Array;
  out.fill(0);
  const xs = backend.typedArrayFromHeap(x) as Float32Array;
  const dys = backend.typedArrayFromHeap(dy) as Float32Array;
  const rowStride = inWidth * c;
  const imgStride = inHeight * rowStride;
  const best = new Float32Array(c);
  const arg = new Int32Array(c);
  let q = 0;
  for (let n = 0; n < batchSize; n++) {
    const img = n * imgStride;
    for (let yo = 0; yo < outHeight; yo++) {
      const y0 = Math.max(0, yo * strideHeight - top);
      const y1 = Math.min(inHeight, yo * strideHeight - top + fh);
      for (let xo = 0; xo < outWidth; xo++) {
        const x0 = Math.max(0, xo * strideWidth - left);
        const x1 = Math.min(inWidth, xo * strideWidth - left + fw);
        best.fill(-Infinity);
        arg.fill(-1);
        for (let yy = y0; yy < y1; yy++) {
          for (let xx = x0; xx < x1; xx++) {
            const base = img + yy * rowStride + xx * c;
            for (let ch = 0; ch < c; ch++) {
              const v = xs[base + ch] as number;
              if (v > (best[ch] as number) || (arg[ch] as number) < 0) {
                best[ch] = v;
                arg[ch] = base + ch;
              }
            }
          }
        }
        for (let ch = 0; ch < c; ch++) {
          const a = arg[ch] as number;
          if (a >= 0) out[a] = (out[a] as number) + (dys[q + ch] as number);
        }
        q += c;
      }
    }
  }
  return dx;
}
