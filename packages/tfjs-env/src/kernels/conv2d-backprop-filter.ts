import * as tf from '@tensorflow/tfjs';
import {
  convWithPads,
  free,
  heapOffset,
  heapView,
  padOrCropSpatial,
  pair,
  rawBatchMatMul,
  runOnCpu,
  runWasm,
  shapeBytes,
  tensorId,
  transpose,
  type KernelArgs,
  type WasmBackend,
} from './wasm-backend.js';

/**
 * Largest (padded ÷ output) pixel ratio (default 1.3) for which the per-tap matmul path is used: it multiplies over the padded
 * positions too (zeros in dy), so it wastes 13 % at 32², 27 % at 16², 56 % at 8² for a 3×3 'same' conv.
 */
let tapMatmulMaxWaste = 1.3;

/** Sets the per-tap matmul threshold (0 disables the path); for benchmarks. Returns the previous value. @internal */
export function setTapMatmulMaxWaste(v: number): number {
  const prev = tapMatmulMaxWaste;
  tapMatmulMaxWaste = v;
  return prev;
}

/**
 * `Conv2DBackpropFilter` for wasm via the "conv trick": the weight gradient of a conv is itself a conv,
 *
 *   dW[a,b,ci,co] = Σ_{n,i,j} x_pad[n, i·s + a·d, j·s + b·d, ci] · dy[n,i,j,co]
 *                 = conv2d(xᵀ = transpose(x,[3,1,2,0]) : [Ci,H,W,N],
 *                          dyᵀ = transpose(dy,[1,2,0,3]) : [Ho,Wo,N,Co],
 *                          strides = d, dilations = s, explicit pads)  : [Ci,kh,kw,Co]
 *
 * and a final `transpose(.., [1,2,0,3])`. All three steps are XNNPACK/wasm kernels. The pads are the forward
 * pads on top/left and whatever makes the output exactly kh×kw on bottom/right (negative = crop `x`).
 *
 * For stride 1, dilation 1 and large images it instead runs one XNNPACK matmul per filter tap (see
 * {@link tapMatmul}): XNNPACK packs a conv's filter slowly (~50 ms per million floats here) and the conv trick's
 * "filter" is all of dy, while a matmul packs dy cheaply and once for all taps.
 * Besides the stock attrs it honours an optional `dilations` attr (the stock op never passes one).
 * NCHW falls back to the cpu kernel (slow).
 */
export function conv2DBackpropFilter(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { inputs, backend, attrs = {} } = args;
  const x = inputs.x as tf.TensorInfo;
  const dy = inputs.dy as tf.TensorInfo;
  const filterShape = attrs.filterShape as [number, number, number, number];
  const dataFormat = (attrs.dataFormat as string | undefined) ?? 'NHWC';
  if (dataFormat !== 'NHWC') return runOnCpu(tf.Conv2DBackpropFilter, inputs, backend, attrs);
  const s = pair(attrs.strides);
  const d = pair(attrs.dilations);
  const info = tf.backend_util.computeConv2DInfo(
    x.shape as [number, number, number, number],
    filterShape,
    s,
    d,
    attrs.pad as 'same',
    attrs.dimRoundingMode as 'floor' | undefined,
  );
  const [kh, kw] = filterShape;
  const [, h, w] = x.shape as [number, number, number, number];
  const [, ho, wo] = dy.shape as [number, number, number, number];
  const top = info.padInfo.top;
  const left = info.padInfo.left;
  const pads = {
    top,
    left,
    bottom: (kh - 1) * d[0] + (ho - 1) * s[0] + 1 - top - h,
    right: (kw - 1) * d[1] + (wo - 1) * s[1] + 1 - left - w,
  };
  if (s[0] === 1 && s[1] === 1 && d[0] === 1 && d[1] === 1 && x.dtype === 'float32') {
    const hp = ho + kh - 1;
    const wp = wo + kw - 1;
    const raw = rawBatchMatMul(backend);
    if (raw && (hp * wp) / (ho * wo) <= tapMatmulMaxWaste) return tapMatmul(backend, raw, x, dy, kh, kw, top, left);
  }
  const xT = transpose(backend, x, [3, 1, 2, 0]);
  const dyT = transpose(backend, dy, [1, 2, 0, 3]);
  const g = convWithPads(backend, 'Conv2D', xT, dyT, pads, d, s);
  free(backend, xT, dyT);
  const out = transpose(backend, g, [1, 2, 0, 3]);
  free(backend, g);
  return out;
}

/**
 * Stride-1 dW as kh·kw matmuls on zero-copy views. With x padded to [N,Hp,Wp,Ci] (Hp = Ho+kh−1) and transposed to
 * xᵀ : [Ci, N·Hp·Wp], and dy zero-padded to the same pixel grid (dyₚ : [N·Hp·Wp, Co]),
 *
 *   dW[a,b] = xᵀ[:, p + a·Wp + b] @ dyₚ[p]      (sum over every grid position p)
 *
 * so the A operand of tap (a,b) is just xᵀ shifted by a·Wp+b elements: a view, no copy (a zero tail keeps the
 * last row in bounds; it meets only zero rows of dyₚ). Each product is written straight into dW[a,b]; dyₚ is
 * packed once (XNNPACK caches the operator on its id) and reused by all taps.
 */
function tapMatmul(
  backend: WasmBackend,
  raw: (...a: unknown[]) => void,
  x: tf.TensorInfo,
  dy: tf.TensorInfo,
  kh: number,
  kw: number,
  top: number,
  left: number,
): tf.TensorInfo {
  const [n, h, w, ci] = x.shape as [number, number, number, number];
  const [, ho, wo, co] = dy.shape as [number, number, number, number];
  const hp = ho + kh - 1;
  const wp = wo + kw - 1;
  const k = n * hp * wp;
  const xp = padOrCropSpatial(backend, x, { top, left, bottom: hp - top - h, right: wp - left - w });
  const xt = transpose(backend, xp, [3, 0, 1, 2]);
  free(backend, xp);
  const tail = (kh - 1) * wp + (kw - 1);
  const buf = backend.makeOutput([ci * k + tail], 'float32');
  {
    const dst = backend.typedArrayFromHeap(buf) as Float32Array;
    dst.set(backend.typedArrayFromHeap(xt) as Float32Array);
    dst.fill(0, ci * k);
  }
  free(backend, xt);
  // Always a fresh tensor: XNNPACK caches the packed operator on the B tensor's id (not its shape), so B must not
  // be a tensor the caller could later multiply in another shape.
  let dyp: tf.TensorInfo;
  if (hp === ho && wp === wo) {
    dyp = backend.makeOutput(dy.shape, 'float32');
    (backend.typedArrayFromHeap(dyp) as Float32Array).set(backend.typedArrayFromHeap(dy) as Float32Array);
  } else {
    dyp = runWasm('PadV2', { x: dy }, backend, { paddings: [[0, 0], [0, hp - ho], [0, wp - wo], [0, 0]], constantValue: 0 });
  }
  const out = backend.makeOutput([kh, kw, ci, co], 'float32');
  const bufOff = heapOffset(backend, buf);
  const outOff = heapOffset(backend, out);
  const dypId = tensorId(backend, dyp);
  const aShape = shapeBytes([1, ci, k]);
  const bShape = shapeBytes([1, k, co]);
  try {
    for (let a = 0; a < kh; a++) {
      for (let b = 0; b < kw; b++) {
        const av = heapView(backend, ci * k, bufOff + (a * wp + b) * 4);
        const ov = heapView(backend, ci * co, outOff + (a * kw + b) * ci * co * 4);
        try {
          raw(av.id, aShape, 3, dypId, bShape, 3, 0, 0, ov.id);
        } finally {
          av.release();
          ov.release();
        }
      }
    }
  } finally {
    free(backend, buf, dyp);
  }
  return out;
}
