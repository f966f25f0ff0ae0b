import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { checkGradients } from '@promptkd/testing';
import { rand } from './kernel-helpers.js';

// Finite differences against the stock TF.js gradients, which on wasm now run promptkd's kernels.
const smooth = (y: tf.Tensor): tf.Scalar => tf.sum(tf.sin(y));
const opts = { eps: 1e-2, rtol: 2e-2, atol: 3e-3 };

describe('gradients on wasm agree with finite differences', () => {
  it('is running on wasm', () => expect(tf.getBackend()).toBe('wasm'));

  for (const [s, pad] of [[1, 'same'], [2, 'same'], [2, 'valid']] as const) {
    it(`conv2d weights and input, stride ${s} ${pad}`, () => {
      const x = rand([2, 6, 5, 3]).mul(0.5);
      const w = rand([3, 3, 3, 2]).mul(0.5);
      const f = (a: tf.Tensor, b: tf.Tensor): tf.Scalar => smooth(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, s, pad));
      checkGradients(f, [x, w], opts);
      tf.dispose([x, w]);
    });
  }

  it('conv2d 1x1 stride 2 (projection shortcut)', () => {
    const x = rand([2, 6, 6, 3]).mul(0.5);
    const w = rand([1, 1, 3, 4]).mul(0.5);
    checkGradients((a, b) => smooth(tf.conv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')), [x, w], opts);
    tf.dispose([x, w]);
  });

  it('depthwise conv weights and input (multiplier 2, stride 2)', () => {
    const x = rand([2, 6, 5, 3]).mul(0.5);
    const w = rand([3, 3, 3, 2]).mul(0.5);
    checkGradients((a, b) => smooth(tf.depthwiseConv2d(a as tf.Tensor4D, b as tf.Tensor4D, 2, 'same')), [x, w], opts);
    tf.dispose([x, w]);
  });

  it('gather (UnsortedSegmentSum), with repeated indices', () => {
    const table = rand([5, 3]);
    const idx = tf.tensor1d([4, 0, 4, 2], 'int32');
    checkGradients((t) => smooth(tf.gather(t, idx).mul(tf.range(1, 13).reshape([4, 3]))), [table], opts);
    tf.dispose([table, idx]);
  });

  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]] as const) {
    it(`batched matmul, transposeA=${ta} transposeB=${tb}`, () => {
      // 3-D batch 3, entries big enough for the per-batch XNNPACK path.
      const a = rand(ta ? [3, 32, 33] : [3, 33, 32]).mul(0.2);
      const b = rand(tb ? [3, 34, 32] : [3, 32, 34]).mul(0.2);
      checkGradients((p, q) => smooth(tf.matMul(p, q, ta, tb)), [a, b], { ...opts, maxCoordinates: 60 });
      tf.dispose([a, b]);
    });
  }

  // Einsum has no registered gradient in TF.js 4.22 on any backend, so there is nothing to check here.
});
