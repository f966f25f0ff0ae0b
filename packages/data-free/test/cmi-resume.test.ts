import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { Rng } from '@promptkd/core';
import { CMISynthesizer, type CmiConfig } from '@promptkd/data-free';
import { fixtureBnCnn } from './helpers.js';
import { TinyGenerator } from './tiny-generator.js';

const tiny: Partial<CmiConfig> = { batchSize: 4, iterations: 3, nz: 6, bankCapacity: 16, negatives: 6, headHidden: 8, headDim: 4, seed: 5 };

describe('CMISynthesizer state (exact resume)', () => {
  it('export → import into a fresh synthesizer continues exactly like the original', async () => {
    const teacher = fixtureBnCnn(import.meta.url);
    const make = () => new CMISynthesizer({ teacher, generator: new TinyGenerator(6, 1), config: tiny });
    const a = make();
    a.reseed(11);
    await a.synthesize();
    a.reseed(12);
    await a.synthesize();
    const saved = await a.exportState();
    const snapshot = JSON.parse(JSON.stringify(saved.state));
    // continue the original
    a.reseed(13);
    const stepA = await a.synthesize();
    const sampleA = a.sample(5, Rng.fromSeed(1));
    // a fresh synthesizer restored from the snapshot
    const b = make();
    await b.importState({ tensors: saved.tensors, state: snapshot });
    tf.dispose(Object.values(saved.tensors));
    b.reseed(13);
    const stepB = await b.synthesize();
    const sampleB = b.sample(5, Rng.fromSeed(1));
    expect(stepB.bankSize).toBe(stepA.bankSize);
    expect(stepB.losses).toEqual(stepA.losses);
    expect(Array.from(sampleB.dataSync())).toEqual(Array.from(sampleA.dataSync()));
    expect(b.featureBank.exportState().rows).toEqual(a.featureBank.exportState().rows);
    tf.dispose([sampleA, sampleB]);
    a.dispose();
    b.dispose();
  });

  it('a generator kept across rounds (resetGenerator: false) is re-initialised once and resumes exactly', async () => {
    const teacher = fixtureBnCnn(import.meta.url);
    const config = { ...tiny, resetGenerator: false };
    const genA = new TinyGenerator(6, 1);
    const a = new CMISynthesizer({ teacher, generator: genA, config });
    a.reseed(11);
    await a.synthesize();
    a.reseed(12);
    await a.synthesize();
    expect(genA.reinitCalls).toBe(1);
    const saved = await a.exportState();
    expect(Object.keys(saved.tensors).filter((k) => k.startsWith('generator.'))).toHaveLength(genA.trainableVariables().length);
    a.reseed(13);
    const stepA = await a.synthesize();
    const sampleA = a.sample(5, Rng.fromSeed(1));
    const genB = new TinyGenerator(6, 1);
    const b = new CMISynthesizer({ teacher, generator: genB, config });
    await b.importState({ tensors: saved.tensors, state: JSON.parse(JSON.stringify(saved.state)) });
    tf.dispose(Object.values(saved.tensors));
    b.reseed(13);
    const stepB = await b.synthesize();
    const sampleB = b.sample(5, Rng.fromSeed(1));
    expect(genB.reinitCalls).toBe(0);
    expect(stepB.losses).toEqual(stepA.losses);
    expect(Array.from(sampleB.dataSync())).toEqual(Array.from(sampleA.dataSync()));
    tf.dispose([sampleA, sampleB]);
    a.dispose();
    b.dispose();
  });

  it('rejects a malformed state with a typed error', async () => {
    const teacher = fixtureBnCnn(import.meta.url);
    const s = new CMISynthesizer({ teacher, generator: new TinyGenerator(6, 1), config: tiny });
    await expect(s.importState({ tensors: {}, state: { nonsense: true } })).rejects.toThrow(/malformed/);
    s.dispose();
  });
});
