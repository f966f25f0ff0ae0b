import * as tf from '@tensorflow/tfjs';
import { Rng, type Synthesizer } from '@promptkd/core';
import { ImageBank } from '@promptkd/data-free';
import { beforeAll, describe, expect, it } from 'vitest';
import { bankBatches } from '../src/bank-agreement.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A synthesizer over a real image bank of ten 1-pixel images whose values are their indices. */
function bankSynthesizer(): { synthesizer: Synthesizer; bank: ImageBank } {
  const bank = new ImageBank({ height: 1, width: 1, channels: 1, seed: 0 });
  const images = tf.tidy(() => tf.div(tf.reshape(tf.range(0, 10), [10, 1, 1, 1]), 255) as tf.Tensor4D);
  bank.add(images);
  images.dispose();
  const synthesizer: Synthesizer = {
    key: 'bank',
    synthesize: () => Promise.reject(new Error('not used')),
    sample: (n, rng) => bank.sample(n, rng),
    draw: (n, rng) => bank.draw(n, rng),
    dispose: () => {},
  };
  return { synthesizer, bank };
}

describe('bankBatches', () => {
  it('draws diagnostic images without moving the order the training stream reads', () => {
    const before = tf.memory().numTensors;
    const looked = bankSynthesizer();
    const plain = bankSynthesizer();
    const training = [Rng.fromSeed(4), Rng.fromSeed(4)];
    const ids = (t: tf.Tensor4D) => Array.from(t.dataSync(), (v) => Math.round(v * 255));
    const first = [looked.synthesizer.sample(3, training[0]), plain.synthesizer.sample(3, training[1])];
    expect(ids(first[0]!)).toEqual(ids(first[1]!));
    let drawn = 0;
    for (const x of bankBatches(looked.synthesizer, undefined, { n: 7, batchSize: 4, seed: 1 })) drawn += x.shape[0];
    expect(drawn).toBe(7);
    const next = [looked.synthesizer.sample(5, training[0]), plain.synthesizer.sample(5, training[1])];
    expect(ids(next[0]!)).toEqual(ids(next[1]!));
    expect(looked.bank.exportState().cursor).toBe(plain.bank.exportState().cursor);
    tf.dispose([...first, ...next]);
    expect(tf.memory().numTensors).toBe(before);
  });

  it("a diagnostic's images are one draw: no image repeats across its batches while the bank has enough", () => {
    const before = tf.memory().numTensors;
    const { synthesizer } = bankSynthesizer();
    const ids = (n: number, seed: number) => {
      const out: number[] = [];
      for (const x of bankBatches(synthesizer, undefined, { n, batchSize: 3, seed })) out.push(...Array.from(x.dataSync(), (v) => Math.round(v * 255)));
      return out;
    };
    for (const seed of [0, 1, 2, 3]) {
      const seven = ids(7, seed);
      expect(seven).toHaveLength(7);
      expect(new Set(seven).size).toBe(7);
      const twelve = ids(12, seed);
      expect(new Set(twelve.slice(0, 10)).size).toBe(10); // the whole bank once, then a fresh permutation
      expect(ids(12, seed)).toEqual(twelve); // seeded
    }
    expect(tf.memory().numTensors).toBe(before);
  });
});
