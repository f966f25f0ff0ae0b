import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { registerWasmTrainingKernels } from '@promptkd/tfjs-env';
import { expandFilter, expectKernelMatchesCpu, expectMatches, onCpu, rand, runKernel, subsampleFilter } from './kernel-helpers.js';

type Pad = 'same' | 'valid' | [[number, number], [number, number], [number, number], [number, number]];
interface ConvCase {
  n: number;
  h: number;
  w: number;
  ci: number;
  co: number;
  k: number;
  s: number;
  pad: Pad;
}

// Batch 1 and >1, odd/even sizes, kernels 1/2/3/4/7, stride 1/2/3/4, same/valid/explicit (asymmetric) padding.
const CASES: ConvCase[] = [
  { n: 1, h: 8, w: 8, ci: 3, co: 4, k: 3, s: 1, pad: 'same' },
  { n: 2, h: 9, w: 7, ci: 2, co: 5, k: 3, s: 2, pad: 'same' },
  { n: 3, h: 8, w: 8, ci: 4, co: 3, k: 3, s: 2, pad: 'valid' },
  { n: 2, h: 7, w: 9, ci: 3, co: 2, k: 3, s: 1, pad: 'valid' },
  { n: 2, h: 8, w: 8, ci: 5, co: 6, k: 1, s: 1, pad: 'same' },
  { n: 2, h: 8, w: 7, ci: 5, co: 6, k: 1, s: 2, pad: 'same' },
  { n: 1, h: 9, w: 9, ci: 4, co: 3, k: 1, s: 2, pad: 'valid' },
  { n: 2, h: 12, w: 11, ci: 3, co: 4, k: 7, s: 2, pad: 'same' },
  { n: 1, h: 10, w: 10, ci: 2, co: 3, k: 7, s: 1, pad: 'valid' },
  { n: 2, h: 8, w: 9, ci: 3, co: 4, k: 3, s: 2, pad: [[0, 0], [1, 2], [0, 1], [0, 0]] },
  { n: 1, h: 6, w: 6, ci: 2, co: 2, k: 3, s: 1, pad: [[0, 0], [2, 0], [1, 1], [0, 0]] },
  { n: 2, h: 10, w: 11, ci: 3, co: 2, k: 3, s: 3, pad: 'same' },
  { n: 2, h: 8, w: 8, ci: 3, co: 4, k: 2, s: 2, pad: 'valid' },
  { n: 1, h: 32, w: 32, ci: 3, co: 8, k: 4, s: 4, pad: 'valid' },
  // Large enough for the per-tap matmul path of Conv2DBackpropFilter (padded/output pixels <= 1.3).
  { n: 2, h: 20, w: 22, ci: 3, co: 4, k: 3, s: 1, pad: 'same' },
  { n: 1, h: 24, w: 20, ci: 5, co: 2, k: 3, s: 1, pad: 'valid' },
  { n: 2, h: 21, w: 19, ci: 2, co: 3, k: 3, s: 1, pad: [[0, 0], [2, 0], [0, 1], [0, 0]] },
  { n: 3, h: 12, w: 12, ci: 4, co: 5, k: 1, s: 1, pad: 'valid' },
];

const label = (c: ConvCase): string => `n${c.n} ${c.h}x${c.w} ${c.ci}->${c.co} k${c.k} s${c.s} ${JSON.stringify(c.pad)}`;

describe('wasm conv training kernels match the cpu backend', () => {
  afterAll(() => tf.disposeVariables());

  it('registration is idempotent and lists the kernels', () => {
    const a = registerWasmTrainingKernels();
    const b = registerWasmTrainingKernels();
    expect(b).toEqual(a);
    expect(a).toEqual(
      expect.arrayContaining([
        'Conv2DBackpropFilter',
        'Conv2DBackpropInput',
        'DepthwiseConv2dNativeBackpropFilter',
        'DepthwiseConv2dNativeBackpropInput',
        'UnsortedSegmentSum',
        'Einsum',
        'BatchMatMul',
      ]),
    );
  });

  for (const c of CASES) {
    it(`Conv2DBackpropFilter / Conv2DBackpropInput ${label(c)}`, async () => {
      const x = rand([c.n, c.h, c.w, c.ci]);
      const f = rand([c.k, c.k, c.ci, c.co]);
      const y = tf.conv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.s, c.pad);
      const dy = rand(y.shape);
      const common = { strides: c.s, pad: c.pad, dataFormat: 'NHWC' };
      await expectKernelMatchesCpu('Conv2DBackpropFilter', { x, dy }, { ...common, filterShape: f.shape }, label(c));
      await expectKernelMatchesCpu('Conv2DBackpropInput', { dy, filter: f }, { ...common, inputShape: x.shape }, label(c));
      tf.dispose([x, f, y, dy]);
    });
  }

  for (const d of [2, 3]) {
    it(`dilation ${d}: backprop kernels equal those of the zero-expanded filter`, async () => {
      const x = rand([2, 11, 10, 3]);
      const f = rand([3, 3, 3, 4]) as tf.Tensor4D;
      const y = tf.conv2d(x as tf.Tensor4D, f, 1, 'same', 'NHWC', d);
      const dy = rand(y.shape);
      const fe = expandFilter(f, d);
      const attrs = { strides: 1, pad: 'same', dataFormat: 'NHWC', dilations: d };
      const dw = runKernel('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: f.shape });
      const dx = runKernel('Conv2DBackpropInput', { dy, filter: f }, { ...attrs, inputShape: x.shape });
      const plain = { strides: 1, pad: 'same', dataFormat: 'NHWC' };
      const refDwE = await onCpu(() => runKernel('Conv2DBackpropFilter', { x, dy }, { ...plain, filterShape: fe.shape }));
      const refDx = await onCpu(() => runKernel('Conv2DBackpropInput', { dy, filter: fe }, { ...plain, inputShape: x.shape }));
      expectMatches(dw, subsampleFilter(refDwE, d, 3, 3), `dW dilation ${d}`);
      expectMatches(dx, refDx, `dx dilation ${d}`);
      tf.dispose([x, f, y, dy, fe]);
    });
  }

  const DW_CASES = [
    { n: 1, h: 8, w: 8, c: 3, m: 1, k: 3, s: 1, d: 1, pad: 'same' as Pad },
    { n: 2, h: 9, w: 8, c: 4, m: 2, k: 3, s: 2, d: 1, pad: 'same' as Pad },
    { n: 3, h: 8, w: 9, c: 2, m: 1, k: 3, s: 2, d: 1, pad: 'valid' as Pad },
    { n: 2, h: 10, w: 10, c: 3, m: 2, k: 3, s: 1, d: 2, pad: 'same' as Pad },
    { n: 2, h: 10, w: 9, c: 2, m: 1, k: 5, s: 1, d: 2, pad: 'valid' as Pad },
    { n: 2, h: 11, w: 11, c: 3, m: 1, k: 7, s: 2, d: 1, pad: 'same' as Pad },
    { n: 2, h: 8, w: 8, c: 3, m: 1, k: 1, s: 2, d: 1, pad: 'valid' as Pad },
  ];
  for (const c of DW_CASES) {
    const l = `n${c.n} ${c.h}x${c.w} c${c.c} m${c.m} k${c.k} s${c.s} d${c.d} ${String(c.pad)}`;
    it(`DepthwiseConv2dNativeBackpropFilter / Input ${l}`, async () => {
      const x = rand([c.n, c.h, c.w, c.c]);
      const f = rand([c.k, c.k, c.c, c.m]);
      const y = tf.depthwiseConv2d(x as tf.Tensor4D, f as tf.Tensor4D, c.s, c.pad as 'same', 'NHWC', c.d);
      const dy = rand(y.shape);
      const common = { strides: c.s, pad: c.pad, dilations: c.d };
      if (c.d === 1) {
        await expectKernelMatchesCpu('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...common, filterShape: f.shape }, l);
        await expectKernelMatchesCpu('DepthwiseConv2dNativeBackpropInput', { dy, filter: f }, { ...common, inputShape: x.shape }, l);
      } else {
        // The cpu backprop kernels ignore `dilations`: compare with the zero-expanded filter instead.
        const fe = expandFilter(f as tf.Tensor4D, c.d);
        const plain = { strides: c.s, pad: c.pad, dilations: 1 };
        const dw = runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...common, filterShape: f.shape });
        const dx = runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: f }, { ...common, inputShape: x.shape });
        const refDwE = await onCpu(() => runKernel('DepthwiseConv2dNativeBackpropFilter', { x, dy }, { ...plain, filterShape: fe.shape }));
        const refDx = await onCpu(() => runKernel('DepthwiseConv2dNativeBackpropInput', { dy, filter: fe }, { ...plain, inputShape: x.shape }));
        expectMatches(dw, subsampleFilter(refDwE, c.d, c.k, c.k), `depthwise dW ${l}`);
        expectMatches(dx, refDx, `depthwise dx ${l}`);
        fe.dispose();
      }
      tf.dispose([x, f, y, dy]);
    });
  }
});
