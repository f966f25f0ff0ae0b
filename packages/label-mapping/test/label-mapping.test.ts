import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, ShapeError } from '@promptkd/core';
import {
  FixedLabelMapping,
  InvalidLabelMappingError,
  IterativeLabelMapping,
  applyLabelMapping,
  countMatrix,
  frequencyLabelMapping,
  frequencyLabelMappingFrom,
  randomLabelMapping,
  randomLabelMappingSlices,
} from '@promptkd/label-mapping';

describe('applyLabelMapping', () => {
  it('reads source class j from host logit π(j)', () => {
    const logits = tf.tensor2d([
      [0, 1, 2, 3, 4],
      [10, 11, 12, 13, 14],
    ]);
    const out = applyLabelMapping(logits, [3, 0, 4]);
    expect(out.shape).toEqual([2, 3]);
    expect(out.arraySync()).toEqual([
      [3, 0, 4],
      [13, 10, 14],
    ]);
    tf.dispose([logits, out]);
  });

  it('is differentiable on wasm: the gradient lands on the mapped host logits only', () => {
    const logits = tf.randomNormal([2, 5], 0, 1, 'float32', 1) as tf.Tensor2D;
    const w = tf.tensor2d([
      [1, 2, 3],
      [4, 5, 6],
    ]);
    const g = tf.grad((l: tf.Tensor) => tf.sum(tf.mul(applyLabelMapping(l as tf.Tensor2D, [3, 0, 4]), w)))(logits);
    expect(g.arraySync()).toEqual([
      [2, 0, 0, 1, 3],
      [5, 0, 0, 4, 6],
    ]);
    tf.dispose([logits, w, g]);
  });

  it('rejects invalid mappings with typed errors', () => {
    const logits = tf.zeros([1, 4]) as tf.Tensor2D;
    const fails = (m: number[], reason: string) => {
      let err: unknown;
      try {
        applyLabelMapping(logits, m);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(InvalidLabelMappingError);
      expect(err).toBeInstanceOf(ConfigError);
      expect((err as InvalidLabelMappingError).reason).toBe(reason);
    };
    fails([0, 1, 2, 3, 0], 'too-many-source-classes');
    fails([0, 2, 2], 'duplicate-target');
    fails([0, 4], 'out-of-range');
    fails([-1], 'out-of-range');
    fails([1.5], 'not-integer');
    const m = new FixedLabelMapping([1, 0], 3);
    expect(() => m.apply(logits)).toThrow(ShapeError);
    logits.dispose();
  });
});

describe('random label mapping', () => {
  it('is a seeded prefix of a permutation, deterministic per seed', () => {
    const a = randomLabelMapping({ hostClasses: 43, sourceClasses: 10, seed: 0 });
    const b = randomLabelMapping({ hostClasses: 43, sourceClasses: 10, seed: 0 });
    const c = randomLabelMapping({ hostClasses: 43, sourceClasses: 10, seed: 1 });
    expect(a.mapping).toEqual(b.mapping);
    expect(a.mapping).not.toEqual(c.mapping);
    expect(new Set(a.mapping).size).toBe(10);
    expect(a.mapping.every((h) => h >= 0 && h < 43)).toBe(true);
    // 10 vs 10: a permutation of all host classes
    const p = randomLabelMapping({ hostClasses: 10, sourceClasses: 10, seed: 0 });
    expect([...p.mapping].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('slices for several sources are disjoint and the first equals the single mapping', () => {
    const [b, c] = randomLabelMappingSlices(43, [10, 10], 0);
    expect(b?.mapping).toEqual(randomLabelMapping({ hostClasses: 43, sourceClasses: 10, seed: 0 }).mapping);
    const all = [...(b?.mapping ?? []), ...(c?.mapping ?? [])];
    expect(all).toHaveLength(20);
    expect(new Set(all).size).toBe(20);
    expect(() => randomLabelMappingSlices(15, [10, 10], 0)).toThrow(InvalidLabelMappingError);
    expect(() => randomLabelMapping({ hostClasses: 5, sourceClasses: 6 })).toThrow(/K_host ≥/);
  });
});

describe('frequency label mapping', () => {
  it('greedy one-to-one on a hand-worked count matrix', () => {
    // C[s][t]; hand-worked: max 7 at (s2,t1) → π(1)=2; remove row 2 & col 1; max 5 at (s0,t0) → π(0)=0;
    // remaining entries (s1,t2)=2 and (s3,t2)=2 tie → first in row-major order: π(2)=1.
    const counts = [
      [5, 1, 0],
      [4, 6, 2],
      [0, 7, 3],
      [1, 0, 2],
    ];
    const copy = JSON.stringify(counts);
    const m = frequencyLabelMapping(counts);
    expect(m.mapping).toEqual([0, 2, 1]);
    expect(JSON.stringify(counts)).toBe(copy); // not modified
    expect(() => frequencyLabelMapping([[1, 2, 3]])).toThrow(InvalidLabelMappingError);
  });

  it('builds the count matrix from host logits and labels (or teacher logits)', () => {
    // host argmax: [1, 1, 2, 0]; labels [0, 0, 1, 1]
    const host = tf.tensor2d([
      [0, 5, 1],
      [0, 3, 1],
      [0, 1, 9],
      [7, 1, 1],
    ]);
    const teacher = tf.tensor2d([
      [3, 1],
      [2, 1],
      [0, 4],
      [-1, 1],
    ]);
    expect(countMatrix(host, [0, 0, 1, 1], { hostClasses: 3, sourceClasses: 2 })).toEqual([
      [0, 1],
      [2, 0],
      [0, 1],
    ]);
    const m = frequencyLabelMappingFrom(host, teacher, { hostClasses: 3, sourceClasses: 2 });
    expect(m.mapping).toEqual([1, 0]);
    expect(() => countMatrix([0, 1], [0], { hostClasses: 3, sourceClasses: 2 })).toThrow(ShapeError);
    expect(() => countMatrix([0, 3], [0, 1], { hostClasses: 3, sourceClasses: 2 })).toThrow(InvalidLabelMappingError);
    tf.dispose([host, teacher]);
  });
});

describe('iterative label mapping', () => {
  it('recomputes the frequency mapping every k epochs', () => {
    const ilm = new IterativeLabelMapping({ hostClasses: 4, sourceClasses: 2, interval: 2, seed: 0 });
    const initial = [...ilm.mapping];
    expect(initial).toEqual(randomLabelMapping({ hostClasses: 4, sourceClasses: 2, seed: 0 }).mapping);
    let calls = 0;
    const evidence = () => {
      calls++;
      // label 0 → host 3, label 1 → host 2
      return { hostPredictions: [3, 3, 2, 2, 1], targetLabels: [0, 0, 1, 1, 1] };
    };
    expect(ilm.maybeUpdate(0, evidence)).toBe(true);
    expect(ilm.mapping).toEqual([3, 2]);
    expect(ilm.maybeUpdate(1, evidence)).toBe(false);
    expect(ilm.maybeUpdate(2, evidence)).toBe(true);
    expect(calls).toBe(2);
    expect(ilm.updates).toEqual([0, 2]);
    const logits = tf.tensor2d([[0, 1, 2, 3]]);
    const out = ilm.apply(logits);
    expect(out.arraySync()).toEqual([[3, 2]]);
    tf.dispose([logits, out]);
    expect(() => new IterativeLabelMapping({ hostClasses: 4, sourceClasses: 2, interval: 0 })).toThrow(ConfigError);
  });
});
