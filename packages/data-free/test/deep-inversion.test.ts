import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectNoTensorLeak } from '@promptkd/testing';
import { DeepInversionSynthesizer, resolveDeepInversionConfig, synthesizerRegistry, totalVariationLoss } from '@promptkd/data-free';
import { fixtureBnCnn } from './helpers.js';
import { TinyGenerator } from './tiny-generator.js';

describe('totalVariationLoss', () => {
  it('sums the mean |difference| over four neighbour directions (hand-computed)', () => {
    // 2×2 image [[0, 1], [3, 7]]: right |0−1|,|3−7| → mean 2.5; down |0−3|,|1−7| → 4.5;
    // anti-diagonal |3−1| → 2; diagonal |0−7| → 7
    const v = tf.tidy(() => totalVariationLoss(tf.tensor4d([0, 1, 3, 7], [1, 2, 2, 1])).dataSync()[0] as number);
    expect(v).toBeCloseTo(2.5 + 4.5 + 2 + 7, 5);
  });
});

describe('DeepInversionSynthesizer', () => {
  it('optimises pixels: keeps the minimum-loss batch, decreases the loss, lands in the bank, no tensor leak', async () => {
    const teacher = fixtureBnCnn(import.meta.url);
    const totals: number[] = [];
    const syn = new DeepInversionSynthesizer({
      teacher,
      config: { batchSize: 4, iterations: 12, imageSize: 8, tv: 1e-3, l2: 1e-3, seed: 1 },
      onIteration: (_i, l) => totals.push(l.total as number),
    });
    const step = await syn.synthesize();
    expect(step.bankSize).toBe(4);
    expect(step.losses.total).toBe(Math.min(...totals));
    // after the first step clips the N(0,1) start into [0,1], the loss goes down
    expect(totals[totals.length - 1]!).toBeLessThan(totals[1]!);
    const s = syn.sample(3);
    expect(s.shape).toEqual([3, 8, 8, 3]);
    s.dispose();
    await expectNoTensorLeak(() => syn.synthesize(), { warmup: false, label: 'DeepInversion round' });
    expect(syn.imageBank.size).toBe(8);
    syn.dispose();
    teacher.dispose();
  });

  it('validates its config', () => {
    expect(() => resolveDeepInversionConfig({ batchSize: 0 })).toThrow(/batchSize/);
    expect(resolveDeepInversionConfig()).toMatchObject({ iterations: 1000, lr: 0.1, tv: 1e-5, l2: 0 });
  });
});

describe('synthesizerRegistry', () => {
  it('lists cmi and deepInversion; every entry runs one smoke round with the Synthesizer contract', async () => {
    expect(synthesizerRegistry.keys().sort()).toEqual(['cmi', 'deepInversion']);
    const teacher = fixtureBnCnn(import.meta.url);
    expect(() => synthesizerRegistry.get('cmi').create({ teacher })).toThrow(/needs a generator/);
    const gen = new TinyGenerator(6);
    for (const key of synthesizerRegistry.keys()) {
      const syn = synthesizerRegistry.get(key).create({
        teacher,
        generator: gen,
        preset: 'smoke',
        config: key === 'cmi' ? { batchSize: 4, iterations: 2, nz: 6, bankCapacity: 16 } : { batchSize: 4, iterations: 2, imageSize: 8 },
      });
      expect(syn.key).toBe(key);
      const step = await syn.synthesize();
      expect(step.bankSize).toBe(4);
      expect(Number.isFinite(step.losses.total)).toBe(true);
      const x = syn.sample(2);
      expect(x.shape).toEqual([2, 8, 8, 3]);
      x.dispose();
      syn.dispose();
    }
    expect(synthesizerRegistry.markdownTable()).toContain('Fang et al., 2021');
    gen.dispose();
    teacher.dispose();
  });
});
