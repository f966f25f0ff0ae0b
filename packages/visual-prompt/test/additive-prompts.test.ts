import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import { AdditivePad, FixedPatch, FullOverlay, RandomPatch } from '@promptkd/visual-prompt';

const values = (t: tf.Tensor) => Array.from(t.dataSync());

describe('additivePad (Bahng et al. PadPrompter)', () => {
  it('has the paper parameter count 69 840 for S=224, p=30', () => {
    const p = new AdditivePad({ size: 224, padSize: 30 });
    expect(p.parameterCount()).toEqual({ effective: 69840, stored: 69840 });
    p.dispose();
  });

  it('adds a border of width p and leaves the centre unchanged; init depends on the seed', () => {
    const p = new AdditivePad({ size: 6, padSize: 1, channels: 1, seed: 1 });
    const x = tf.zeros([1, 6, 6, 1]) as tf.Tensor4D;
    const y = p.apply(x).reshape([6, 6]);
    const rows = y.arraySync() as number[][];
    for (let r = 1; r < 5; r++) for (let c = 1; c < 5; c++) expect(rows[r]?.[c]).toBe(0);
    expect(rows[0]?.every((v) => v !== 0)).toBe(true);
    const q = new AdditivePad({ size: 6, padSize: 1, channels: 1, seed: 2 });
    const z = q.apply(x);
    expect(values(z)).not.toEqual(values(y));
    expect(() => new AdditivePad({ size: 6, padSize: 3 })).toThrow(ConfigError);
    tf.dispose([x, y, z]);
    p.dispose();
    q.dispose();
  });
});

describe('fixedPatch / randomPatch', () => {
  it('fixed patch sits at the top-left corner', () => {
    const p = new FixedPatch({ size: 5, patchSize: 2, channels: 1 });
    const y = p.apply(tf.zeros([1, 5, 5, 1]) as tf.Tensor4D).reshape([5, 5]).arraySync() as number[][];
    const patch = p.namedVariables().get('patch')?.dataSync() as Float32Array;
    expect([y[0]?.[0], y[0]?.[1], y[1]?.[0], y[1]?.[1]]).toEqual(Array.from(patch));
    expect(y.flat().filter((v) => v !== 0)).toHaveLength(4);
    p.dispose();
  });

  it('random patch moves between calls, stays inside the image, and replays from its saved state', () => {
    const p = new RandomPatch({ size: 6, patchSize: 2, channels: 1, seed: 3 });
    p.namedVariables().get('patch')?.assign(tf.ones([2, 2, 1]));
    const x = tf.zeros([1, 6, 6, 1]) as tf.Tensor4D;
    const state = p.getState();
    const positions = new Set<string>();
    const outs: number[][] = [];
    for (let i = 0; i < 8; i++) {
      const y = p.apply(x);
      const v = values(y);
      outs.push(v);
      expect(v.reduce((a, b) => a + b, 0)).toBe(4); // the whole patch is inside
      positions.add(v.map((e) => (e ? 1 : 0)).join(''));
      y.dispose();
    }
    expect(positions.size).toBeGreaterThan(1);
    p.setState(state);
    const again = p.apply(x);
    expect(values(again)).toEqual(outs[0]);
    tf.dispose([x, again]);
    p.dispose();
  });
});

describe('fullOverlay', () => {
  it('zero init is the identity; normal init is seeded', () => {
    const p = new FullOverlay({ size: 4 });
    const x = tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const y = p.apply(x);
    expect(values(y)).toEqual(values(x));
    const a = new FullOverlay({ size: 4, init: 'normal', seed: 5 });
    const b = new FullOverlay({ size: 4, init: 'normal', seed: 5 });
    expect(values(a.namedVariables().get('delta') as tf.Variable)).toEqual(values(b.namedVariables().get('delta') as tf.Variable));
    expect(() => new FullOverlay({ size: 4, init: 'ones' as 'zeros' })).toThrow(ConfigError);
    tf.dispose([x, y]);
    [p, a, b].forEach((q) => q.dispose());
  });
});
