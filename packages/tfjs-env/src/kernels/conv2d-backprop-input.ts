import * as tf from '@tensorflow/tfjs';
import {
  convWithPads,
  dilateSpatial,
  free,
  pair,
  runWasm,
  transpose,
  type KernelArgs,
  type WasmBackend,
} from './wasm-backend.js';

/** The stock wasm `Conv2DBackpropInput` (2.4 GFLOP/s), kept for the cases we do not rewrite. */
let stock: tf.KernelFunc | undefined;

/** Remembers the stock kernel before it is replaced. @internal */
export function setStockConv2DBackpropInput(k: tf.KernelFunc | undefined): void {
  stock = k;
}

/**
 * `Conv2DBackpropInput` (dx of a conv, also the forward of `conv2dTranspose`) as a forward conv of dy with the
 * spatially flipped, in/out-transposed filter: `dx = conv2d(dilate_s(dy), transpose(reverse(W,[0,1]),[0,1,3,2]))`
 * with stride 1, the forward dilation and pads `(k-1)·d − pad` (negative = crop). Runs on XNNPACK at forward-conv
 * speed instead of the stock kernel's naive loop.
 *
 * Stride s > 1 (dilation 1) uses the sub-pixel decomposition: output rows y ≡ p (mod s) only see the taps
 * a ≡ p + pad (mod s), so dx splits into s_h·s_w stride-1 convs of dy with sub-filters (2×2, 2×1, 1×2, 1×1 for a
 * 3×3 stride-2 conv) whose results are interleaved into dx — exactly the MACs of the forward conv. Stride and
 * dilation both > 1 dilates dy with zeros instead (s² more MACs). NCHW falls back to the stock kernel.
 */
export function conv2DBackpropInput(args: KernelArgs): tf.TensorInfo | tf.TensorInfo[] {
  const { inputs, backend, attrs = {} } = args;
  const dy = inputs.dy as tf.TensorInfo;
  const filter = inputs.filter as tf.TensorInfo;
  const inputShape = attrs.inputShape as [number, number, number, number];
  const dataFormat = (attrs.dataFormat as string | undefined) ?? 'NHWC';
  if (dataFormat !== 'NHWC') {
    if (!stock) throw new Error('promptkd: stock Conv2DBackpropInput missing');
    return stock(args as unknown as Parameters<tf.KernelFunc>[0]);
  }
  const s = pair(attrs.strides);
  const d = pair(attrs.dilations);
  const [kh, kw] = filter.shape as [number, number, number, number];
  const info = tf.backend_util.computeConv2DInfo(
    inputShape,
    filter.shape as [number, number, number, number],
    s,
    d,
    attrs.pad as 'same',
    attrs.dimRoundingMode as 'floor' | undefined,
  );
  const [, h, w] = inputShape;
  const [, ho, wo] = dy.shape as [number, number, number, number];
  const top = info.padInfo.top;
  const left = info.padInfo.left;

  // Flipped, transposed filter [kh,kw,Co,Ci].
  const needsFlip = kh > 1 || kw > 1;
  const rev = needsFlip ? runWasm('Reverse', { x: filter }, backend, { dims: [0, 1] }) : undefined;
  const wf = transpose(backend, rev ?? filter, [0, 1, 3, 2]);
  free(backend, rev);

  if ((s[0] > 1 || s[1] > 1) && d[0] === 1 && d[1] === 1) {
    const out = subPixel(backend, dy, wf, inputShape, s, top, left, kh, kw);
    free(backend, wf);
    return out;
  }

  const dyd = dilateSpatial(backend, dy, s);
  // dyd has ho·s rows; the true dilated length is (ho−1)·s+1, the rest are zeros (= bottom padding).
  const pt = (kh - 1) * d[0] - top;
  const pl = (kw - 1) * d[1] - left;
  const pads = {
    top: pt,
    left: pl,
    bottom: h + (kh - 1) * d[0] - pt - ho * s[0],
    right: w + (kw - 1) * d[1] - pl - wo * s[1],
  };
  const out = convWithPads(backend, 'Conv2D', dyd, wf, pads, [1, 1], d);
  free(backend, dyd, wf);
  return out;
}

/** Taps of one output phase along one axis: filter offsets r, r+s, ... < k; `t` of them; top pad of its conv. */
interface Phase {
  readonly p: number;
  readonly r: number;
  readonly t: number;
  readonly pad: number;
  /** Output rows of this phase: q with s·q + p < size. */
  readonly q: number;
}

function phases(k: number, s: number, pad: number, size: number): Phase[] {
  const out: Phase[] = [];
  for (let p = 0; p < s; p++) {
    const r = (p + pad) % s;
    const t = r < k ? Math.ceil((k - r) / s) : 0;
    const c = Math.floor((p + pad) / s);
    out.push({ p, r, t, pad: t - 1 - c, q: Math.max(0, Math.ceil((size - p) / s)) });
  }
  return out;
}

/** dx of a strided conv as s_h·s_w stride-1 convs with sub-filters, interleaved into dx. `wf` is W flipped+transposed. */
function subPixel(
  backend: WasmBackend,
  dy: tf.TensorInfo,
  wf: tf.TensorInfo,
  inputShape: [number, number, number, number],
  s: [number, number],
  top: number,
  left: number,
  kh: number,
  kw: number,
): tf.TensorInfo {
  const [n, h, w, ci] = inputShape;
  const [, ho, wo, co] = dy.shape as [number, number, number, number];
  const rows = phases(kh, s[0], top, h);
  const cols = phases(kw, s[1], left, w);
  // Original (unflipped) tap a sits at flipped index kh−1−a in wf.
  const results: Array<{ ph: Phase; pw: Phase; out: tf.TensorInfo }> = [];
  let anyEmpty = false;
  for (const ph of rows) {
    for (const pw of cols) {
      if (ph.t === 0 || pw.t === 0 || ph.q === 0 || pw.q === 0) {
        anyEmpty = true;
        continue;
      }
      // Sub-filter F[u,v] = W[r_h + s_h(t_h−1−u), r_w + s_w(t_w−1−v)] (as [Co,Ci]) = wf[kh−1−(…), kw−1−(…)].
      const sub = backend.makeOutput([ph.t, pw.t, co, ci], 'float32');
      const dst = backend.typedArrayFromHeap(sub) as Float32Array;
      const src = backend.typedArrayFromHeap(wf) as Float32Array;
      const blk = co * ci;
      for (let u = 0; u < ph.t; u++) {
        const a = kh - 1 - (ph.r + s[0] * (ph.t - 1 - u));
        for (let v = 0; v < pw.t; v++) {
          const b = kw - 1 - (pw.r + s[1] * (pw.t - 1 - v));
          const from = (a * kw + b) * blk;
          dst.set(src.subarray(from, from + blk), (u * pw.t + v) * blk);
        }
      }
      const out = convWithPads(
        backend,
        'Conv2D',
        dy,
        sub,
        {
          top: ph.pad,
          bottom: ph.q + ph.t - 1 - ph.pad - ho,
          left: pw.pad,
          right: pw.q + pw.t - 1 - pw.pad - wo,
        },
        [1, 1],
        [1, 1],
      );
      free(backend, sub);
      results.push({ ph, pw, out });
    }
  }
  const dx = backend.makeOutput(inputShape, 'float32');
  const dst = backend.typedArrayFromHeap(dx) as Float32Array;
  if (anyEmpty) dst.fill(0);
  const rowStride = w * ci;
  for (const { ph, pw, out } of results) {
    const src = backend.typedArrayFromHeap(out) as Float32Array;
    let k = 0;
    for (let b = 0; b < n; b++) {
      for (let q = 0; q < ph.q; q++) {
        const rowBase = (b * h + q * s[0] + ph.p) * rowStride;
        for (let r = 0; r < pw.q; r++) {
          dst.set(src.subarray(k, k + ci), rowBase + (r * s[1] + pw.p) * ci);
          k += ci;
        }
      }
    }
    free(backend, out);
  }
  return dx;
}
