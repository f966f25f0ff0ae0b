import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, ShapeError } from '@promptkd/core';
import { expectNoTensorLeak } from '@promptkd/testing';
import { ExpansivePad, SegmentedPrompt, createPrompt } from '@promptkd/visual-prompt';

/** Gives every θ distinct values so composition errors cannot hide behind the 0.5 init. */
function randomise(p: SegmentedPrompt, seed: number): void {
  let s = seed;
  for (const v of p.namedVariables().values()) v.assign(tf.randomNormal(v.shape, 0, 1, 'float32', s++));
}

describe('SegmentedPrompt', () => {
  it('effective parameter counts 816 and 45 264 for 32→36→128', () => {
    const p = new SegmentedPrompt({ sizes: [32, 36, 128] });
    expect(p.numSegments).toBe(2);
    expect(p.segment(1).parameterCount().effective).toBe(816);
    expect(p.segment(2).parameterCount().effective).toBe(45264);
    expect(p.parameterCount()).toEqual({ effective: 46080, stored: 3 * 36 * 36 + 3 * 128 * 128 });
    expect(p.segments().map((s) => [s.index, s.inputSize, s.outputSize, s.pad])).toEqual([
      [1, 32, 36, [2, 2]],
      [2, 36, 128, [46, 46]],
    ]);
    p.dispose();
  });

  it('triple 32→36→128→224: pads (2,2), (46,46), (48,48) and output sizes per k', () => {
    const p = createPrompt('segmented', { sizes: [32, 36, 128, 224] }) as SegmentedPrompt;
    expect(p.segments().map((s) => s.pad)).toEqual([[2, 2], [46, 46], [48, 48]]);
    expect([1, 2, 3].map((k) => p.outputSizeUpTo(k))).toEqual([36, 128, 224]);
    expect(p.outputShape).toEqual([224, 224, 3]);
    p.dispose();
  });

  it('composition equals the nested application of standalone segments', () => {
    const sizes = [4, 6, 12, 15];
    const p = new SegmentedPrompt({ sizes });
    randomise(p, 11);
    const x = tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    // standalone ExpansivePads holding the same θ
    const standalone = [1, 2, 3].map((i) => {
      const e = new ExpansivePad({ inputSize: sizes[i - 1] as number, outputSize: sizes[i] as number });
      e.theta.assign(p.segment(i).theta);
      return e;
    });
    for (const k of [1, 2, 3]) {
      const viaChain = p.apply(x, { upTo: k });
      let nested = x;
      for (let i = 0; i < k; i++) nested = (standalone[i] as ExpansivePad).apply(nested);
      expect(viaChain.shape).toEqual([2, sizes[k], sizes[k], 3]);
      expect(Array.from(viaChain.dataSync())).toEqual(Array.from(nested.dataSync()));
      tf.dispose([viaChain, nested]);
    }
    // from: apply segments 2..3 to an already-core-prompted image
    const core = p.apply(x, { upTo: 1 });
    const rest = p.apply(core, { from: 2 });
    const all = p.apply(x);
    expect(Array.from(rest.dataSync())).toEqual(Array.from(all.dataSync()));
    // the image sits untouched in the centre of the final canvas
    const off = p.segments().reduce((a, s) => a + s.pad[0], 0);
    const centre = all.slice([0, off, off, 0], [2, 4, 4, 3]);
    expect(Array.from(centre.dataSync())).toEqual(Array.from(x.dataSync()));
    tf.dispose([x, core, rest, all, centre]);
    standalone.forEach((e) => e.dispose());
    p.dispose();
  });

  it('segment variables are selectable for training; frozen segments get no updates', () => {
    const p = new SegmentedPrompt({ sizes: [4, 6, 10] });
    expect([...p.namedVariables().keys()]).toEqual(['segment1.theta', 'segment2.theta']);
    expect(p.trainableVariables({ segments: [2] }).map((v) => v.name)).toEqual([p.segment(2).theta.name]);
    p.setSegmentTrainable(1, false);
    expect(p.trainableVariables()).toEqual([p.segment(2).theta]);
    // gradients through a k=2 application reach both segments when both train
    p.setSegmentTrainable(1, true);
    const x = tf.randomNormal([1, 4, 4, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal([1, 10, 10, 3], 0, 1, 'float32', 2);
    const { grads, value } = tf.variableGrads(() => tf.sum(tf.mul(p.apply(x), w)) as tf.Scalar, p.trainableVariables());
    expect(Object.keys(grads).sort()).toEqual([p.segment(1).theta.name, p.segment(2).theta.name].sort());
    // segment-1-only application: no gradient path to segment 2
    const g1 = tf.variableGrads(
      () => tf.sum(p.apply(x, { upTo: 1 })) as tf.Scalar,
      p.trainableVariables({ segments: [1] }),
    );
    expect(Object.keys(g1.grads)).toEqual([p.segment(1).theta.name]);
    tf.dispose([x, w, value, g1.value, ...Object.values(grads), ...Object.values(g1.grads)]);
    p.dispose();
  });

  it('works for any N ≥ 1', () => {
    const one = new SegmentedPrompt({ sizes: [4, 8] });
    const x = tf.zeros([1, 4, 4, 3]) as tf.Tensor4D;
    const y = one.apply(x);
    expect(y.shape).toEqual([1, 8, 8, 3]);
    const five = new SegmentedPrompt({ sizes: [2, 3, 5, 6, 9, 10], channels: 1 });
    expect(five.numSegments).toBe(5);
    const z = five.apply(tf.zeros([1, 2, 2, 1]) as tf.Tensor4D, { upTo: 4 });
    expect(z.shape).toEqual([1, 9, 9, 1]);
    tf.dispose([x, y, z]);
    one.dispose();
    five.dispose();
  });

  it('rejects bad sizes, segment numbers and input sizes', () => {
    expect(() => new SegmentedPrompt({ sizes: [32] })).toThrow(ConfigError);
    expect(() => new SegmentedPrompt({ sizes: [32, 36, 36] })).toThrow(/increase strictly/);
    const p = new SegmentedPrompt({ sizes: [4, 6, 10] });
    expect(() => p.segment(0)).toThrow(/1\.\.2/);
    const x = tf.zeros([1, 6, 6, 3]) as tf.Tensor4D;
    expect(() => p.apply(x)).toThrow(ShapeError);
    const y = p.apply(x, { from: 2 });
    expect(y.shape).toEqual([1, 10, 10, 3]);
    expect(() => p.apply(x, { from: 2, upTo: 1 })).toThrow(ConfigError);
    tf.dispose([x, y]);
    p.dispose();
  });

  it('does not leak in a training step', async () => {
    const p = new SegmentedPrompt({ sizes: [4, 6, 10] });
    const x = tf.randomNormal([2, 4, 4, 3]) as tf.Tensor4D;
    const opt = tf.train.adam(0.01);
    await expectNoTensorLeak(() => {
      tf.dispose(
        opt.minimize(
          () => tf.add(tf.mean(p.apply(x)), tf.mean(p.apply(x, { upTo: 1 }))) as tf.Scalar,
          true,
          p.trainableVariables(),
        ) ?? [],
      );
    });
    opt.dispose();
    x.dispose();
    p.dispose();
  });
});
