import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectKernelMatchesCpu, expectMatches, onCpu, rand, runKernel } from './kernel-helpers.js';

describe('wasm UnsortedSegmentSum / Einsum / BatchMatMul match the cpu backend', () => {
  it('UnsortedSegmentSum: repeated, missing and out-of-range ids, 1-D and 3-D data', async () => {
    const ids = tf.tensor1d([2, 0, 2, 5, -1, 0, 3], 'int32');
    await expectKernelMatchesCpu('UnsortedSegmentSum', { x: rand([7, 3, 2]), segmentIds: ids }, { numSegments: 5 }, '3-D');
    await expectKernelMatchesCpu('UnsortedSegmentSum', { x: rand([7]), segmentIds: ids }, { numSegments: 4 }, '1-D');
  });

  it('UnsortedSegmentSum sums known values', () => {
    const out = runKernel(
      'UnsortedSegmentSum',
      { x: tf.tensor2d([[1, 2], [3, 4], [5, 6]]), segmentIds: tf.tensor1d([1, 1, 0], 'int32') },
      { numSegments: 3 },
    );
    expect(Array.from(out.values)).toEqual([5, 6, 4, 6, 0, 0]);
  });

  const TILES: Array<[number[], number[], tf.DataType]> = [
    [[1, 1, 1, 5], [3, 4, 2, 1], 'float32'],
    [[2, 3, 4], [2, 1, 3], 'float32'],
    [[3], [4], 'float32'],
    [[2, 1, 3], [1, 5, 2], 'int32'],
    [[2, 3, 1, 2], [2, 2, 3, 2], 'bool'],
  ];
  for (const [shape, reps, dtype] of TILES) {
    it(`Tile ${JSON.stringify(shape)} by ${JSON.stringify(reps)} (${dtype})`, async () => {
      const x = tf.cast(tf.mul(rand(shape), 3), dtype);
      const ours = tf.tile(x, reps);
      const ref = await onCpu(() => tf.tile(x, reps));
      expect(ours.shape).toEqual(ref.shape);
      expect(Array.from(ours.dataSync())).toEqual(Array.from(ref.dataSync()));
      tf.dispose([x, ours, ref]);
    });
  }

  const POOLS: Array<[number[], number, number, 'same' | 'valid']> = [
    [[2, 8, 8, 3], 2, 2, 'valid'],
    [[2, 7, 9, 4], 3, 2, 'same'],
    [[1, 6, 6, 2], 3, 1, 'same'],
    [[3, 9, 9, 2], 3, 2, 'valid'],
  ];
  for (const [shape, k, s, pad] of POOLS) {
    it(`MaxPoolGrad ${JSON.stringify(shape)} k${k} s${s} ${pad}`, async () => {
      const x = rand(shape);
      const y = tf.maxPool(x as tf.Tensor4D, k, s, pad);
      const dy = rand(y.shape);
      await expectKernelMatchesCpu('MaxPoolGrad', { dy, input: x, output: y }, { filterSize: k, strides: s, pad }, `k${k} s${s} ${pad}`);
      tf.dispose([x, y, dy]);
    });
  }

  it('Identity shares the buffer yet outlives its input, and frees it with the last reference', () => {
    const before = tf.memory().numBytes;
    const x = tf.tensor2d([[1, 2], [3, 4]]);
    const c = tf.clone(x);
    const f = tf.cast(c, 'float32');
    x.dispose();
    expect(Array.from(c.dataSync())).toEqual([1, 2, 3, 4]);
    c.dispose();
    expect(Array.from(f.dataSync())).toEqual([1, 2, 3, 4]);
    expect(tf.memory().numBytes).toBe(before + 16);
    f.dispose();
    expect(tf.memory().numBytes).toBe(before);
  });

  const PERMS: Array<[number[], number[]]> = [
    [[4, 5, 3, 2, 6], [2, 0, 3, 1, 4]],
    [[3, 4, 5, 6], [3, 1, 2, 0]],
    [[3, 1, 5, 6], [3, 1, 2, 0]],
    [[2, 3, 4, 5, 2, 3], [5, 4, 0, 2, 1, 3]],
    [[5, 7], [1, 0]],
    [[2, 3, 4], [0, 1, 2]],
    [[1, 4, 1, 5], [2, 0, 3, 1]],
  ];
  for (const [shape, perm] of PERMS) {
    it(`Transpose ${JSON.stringify(shape)} by ${JSON.stringify(perm)}`, async () => {
      const x = rand(shape);
      const ours = tf.transpose(x, perm);
      const ref = await onCpu(() => tf.transpose(x, perm));
      expect(ours.shape).toEqual(ref.shape);
      expect(Array.from(ours.dataSync())).toEqual(Array.from(ref.dataSync()));
      tf.dispose([x, ours, ref]);
    });
  }

  const SLICES: Array<[number[], number[], number[]]> = [
    [[4, 5, 6], [1, 0, 2], [2, 5, 3]],
    [[4, 5, 6], [1, 0, 0], [2, -1, -1]],
    [[3, 4, 5, 6, 2], [0, 1, 2, 3, 0], [3, 2, 2, 3, 1]],
    [[7], [2], [4]],
    [[2, 3], [0, 0], [2, 3]],
  ];
  for (const [shape, begin, size] of SLICES) {
    it(`Slice ${JSON.stringify(shape)} at ${JSON.stringify(begin)} size ${JSON.stringify(size)}`, async () => {
      const x = rand(shape);
      const ours = tf.slice(x, begin, size);
      const ref = await onCpu(() => tf.slice(x, begin, size));
      expect(ours.shape).toEqual(ref.shape);
      expect(Array.from(ours.dataSync())).toEqual(Array.from(ref.dataSync()));
      tf.dispose([x, ours, ref]);
    });
  }

  it('Einsum (cpu fallback) for matmul, batched matmul, transpose-contract and outer product', async () => {
    const cases: Array<[string, number[][]]> = [
      ['ij,jk->ik', [[3, 4], [4, 5]]],
      ['bij,bjk->bik', [[2, 3, 4], [2, 4, 5]]],
      ['ij,kj->ik', [[3, 4], [5, 4]]],
      ['i,j->ij', [[3], [4]]],
    ];
    for (const [equation, shapes] of cases) {
      const xs = shapes.map((s) => rand(s));
      const ours = tf.einsum(equation, ...xs);
      const ref = await onCpu(() => tf.einsum(equation, ...xs));
      expectMatches(
        { shape: ours.shape, values: ours.dataSync() as Float32Array },
        { shape: ref.shape, values: ref.dataSync() as Float32Array },
        equation,
      );
    }
  });

  const MM: Array<[number[], number[], boolean, boolean, string]> = [
    [[7, 5], [5, 6], false, false, '2-D'],
    [[5, 7], [5, 6], true, false, '2-D transposeA'],
    [[7, 5], [6, 5], false, true, '2-D transposeB'],
    [[5, 7], [6, 5], true, true, '2-D both flags'],
    [[4, 40, 48], [4, 48, 36], false, false, '3-D per-batch'],
    [[4, 48, 40], [4, 36, 48], true, true, '3-D per-batch both flags'],
    [[4, 40, 48], [4, 36, 48], false, true, '3-D per-batch transposeB'],
    [[3, 4, 5], [3, 5, 2], false, false, '3-D tiny (stock loop)'],
    [[3, 20, 24], [1, 24, 18], false, false, 'b batch 1 (rows folded)'],
    [[3, 20, 24], [24, 18], false, false, 'b rank 2 (rows folded)'],
    [[1, 40, 48], [3, 48, 36], false, false, 'a batch 1 broadcast'],
    [[2, 1, 40, 48], [1, 3, 48, 36], false, false, '4-D broadcast both'],
    [[2, 3, 48, 40], [2, 3, 48, 36], true, false, '4-D transposeA'],
  ];
  for (const [sa, sb, ta, tb, l] of MM) {
    it(`BatchMatMul ${l} ${JSON.stringify(sa)}x${JSON.stringify(sb)}`, async () => {
      const a = rand(sa);
      const b = rand(sb);
      const ours = tf.matMul(a, b, ta, tb);
      // The cpu kernel mis-sizes outputs when BOTH operands broadcast; tile explicitly for the reference.
      const outer = tf.broadcast_util.assertAndGetBroadcastShape(sa.slice(0, -2), sb.slice(0, -2));
      const full = (t: tf.Tensor, s: number[]): tf.Tensor =>
        s.length < 3 ? t : tf.broadcastTo(t, [...outer, ...s.slice(-2)]);
      const ref = await onCpu(() => tf.matMul(full(a, sa), full(b, sb), ta, tb));
      expectMatches(
        { shape: ours.shape, values: ours.dataSync() as Float32Array },
        { shape: ref.shape, values: ref.dataSync() as Float32Array },
        l,
      );
      tf.dispose([a, b, ours, ref]);
    });
  }

  it('BatchMatMul leaves no tensors or wasm allocations behind', () => {
    const a = rand([4, 40, 48]);
    const b = rand([4, 36, 48]);
    tf.matMul(a, b, false, true).dispose();
    const before = tf.memory();
    for (let i = 0; i < 3; i++) tf.matMul(a, b, false, true).dispose();
    const after = tf.memory();
    expect(after.numTensors).toBe(before.numTensors);
    expect(after.numDataBuffers).toBe(before.numDataBuffers);
    expect(after.numBytes).toBe(before.numBytes);
    tf.dispose([a, b]);
  });
});
