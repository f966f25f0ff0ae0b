import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectNoTensorLeak } from '@promptkd/testing';
import { cosineLr, kiopVariantRegistry, knowledgeStoringStep, trainKiop, KIOP_VARIANTS } from '@promptkd/kiop';
import { fakeContext } from './context.js';

function snapshot(vars: ReadonlyMap<string, tf.Variable> | tf.Variable[]): Float32Array[] {
  return [...(vars instanceof Map ? vars.values() : vars)].map((v) => v.dataSync().slice() as Float32Array);
}
const changed = (a: Float32Array[], b: Float32Array[]) => a.some((x, i) => x.some((v, j) => v !== b[i]![j]));

describe('KiOP variants', () => {
  it('registers the five variants of the paper', () => {
    expect(kiopVariantRegistry.keys().sort()).toEqual([...KIOP_VARIANTS].sort());
  });

  for (const variant of ['kiopT', 'kiopB', 'kiopBF', 'multiModel'] as const) {
    it(`${variant}: trains only the prompt; host and sources stay frozen`, async () => {
      const f = fakeContext(variant);
      const hostBefore = snapshot(f.host.namedVariables());
      const sourceBefore = f.sources.map((s) => snapshot(s.namedVariables()));
      const promptBefore = snapshot(f.prompt.trainableVariables());
      const result = await trainKiop(f.ctx);
      expect(changed(hostBefore, snapshot(f.host.namedVariables()))).toBe(false);
      f.sources.forEach((s, i) => expect(changed(sourceBefore[i]!, snapshot(s.namedVariables()))).toBe(false));
      // every segment the loss reaches is updated: PC through SMA/SMB, PP (and PP2) through their sources
      const after = snapshot(f.prompt.trainableVariables());
      promptBefore.forEach((b, i) => expect(changed([b], [after[i]!])).toBe(true));
      expect(result.epochs).toHaveLength(2);
      const expectedBanks = { kiopT: 1, kiopB: 1, kiopBF: 2, multiModel: 3 }[variant];
      expect(f.synths).toHaveLength(expectedBanks);
      for (const s of f.synths) expect(s.rounds).toBe(2);
      const terms = Object.keys(result.epochs[0]!.losses).sort();
      const expectedTerms = {
        kiopT: ['L_B', 'loss'],
        kiopB: ['L_A', 'L_B', 'loss'],
        kiopBF: ['L_A', 'L_B', 'loss'],
        multiModel: ['L_A', 'L_B', 'L_C', 'loss'],
      }[variant];
      expect(terms).toEqual(expectedTerms);
      expect(Object.keys(result.final).sort()).toEqual(
        variant === 'multiModel' ? ['accA', 'accB', 'accC', 'predictedClassesB', 'predictedClassesC'] : ['accA', 'accB', 'predictedClassesB'],
      );
      f.dispose();
    });
  }

  it('vanillaKd: trains a copy of the host, never the host itself, and restores the head for Acc.A', async () => {
    const f = fakeContext('vanillaKd');
    const hostBefore = snapshot(f.host.namedVariables());
    const promptBefore = snapshot(f.prompt.trainableVariables());
    const result = await trainKiop(f.ctx);
    expect(changed(hostBefore, snapshot(f.host.namedVariables()))).toBe(false);
    expect(changed(promptBefore, snapshot(f.prompt.trainableVariables()))).toBe(false);
    expect(Object.keys(result.epochs[0]!.losses).sort()).toEqual(['L_B', 'loss']);
    expect(result.final.accA).toBeGreaterThanOrEqual(0);
    f.dispose();
  });

  it('alpha = 0 removes the preservation term from the loss', async () => {
    const f = fakeContext('kiopB', { overrides: { alpha: 0, epochs: 1, kdSteps: 1 } });
    const result = await trainKiop(f.ctx);
    expect(result.epochs[0]!.losses.L_A).toBe(0);
    f.dispose();
  });

  it('one knowledge-storing step leaks no tensors', async () => {
    const f = fakeContext('kiopBF');
    const session = kiopVariantRegistry.get('kiopBF').create(f.ctx);
    const opt = tf.train.momentum(0.1, 0.9);
    await expectNoTensorLeak(() => knowledgeStoringStep(session, opt, { weightDecay: 1e-4 }));
    opt.dispose();
    session.dispose();
    f.dispose();
  });

  it('picks the best epoch by Acc.B and reports the final one', async () => {
    const f = fakeContext('kiopT', { overrides: { epochs: 3, kdSteps: 1 } });
    const result = await trainKiop(f.ctx);
    const accB = result.epochs.map((e) => e.metrics.accB!);
    expect(result.best.metrics.accB).toBe(Math.max(...accB));
    expect(result.final).toEqual(result.epochs[2]!.metrics);
    f.dispose();
  });
});

describe('cosineLr', () => {
  it('follows PyTorch CosineAnnealingLR stepped per epoch', () => {
    expect(cosineLr(0.8, 0, 100)).toBeCloseTo(0.8, 12);
    expect(cosineLr(0.8, 50, 100)).toBeCloseTo(0.4, 12);
    expect(cosineLr(0.8, 99, 100)).toBeCloseTo(0.4 * (1 + Math.cos((Math.PI * 99) / 100)), 12);
  });
});
