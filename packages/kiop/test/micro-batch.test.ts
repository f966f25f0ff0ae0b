import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import { expectNoTensorLeak } from '@promptkd/testing';
import { kiopVariantRegistry, knowledgeStoringStep, type KiopVariantKey } from '@promptkd/kiop';
import { fakeContext } from './context.js';

/** One plain-SGD step (lr 1, no momentum, no decay) from the same prompt and the same bank draws: θ − θ' = ∇L. */
function update(variant: KiopVariantKey, microBatch?: number) {
  const f = fakeContext(variant, { overrides: { batchSize: 8 } });
  const session = kiopVariantRegistry.get(variant).create(f.ctx);
  session.reseed(5);
  const vars = session.trainableVariables();
  const before = vars.map((v) => v.dataSync().slice() as Float32Array);
  const opt = tf.train.sgd(1);
  const losses = knowledgeStoringStep(session, opt, { weightDecay: 0, ...(microBatch ? { microBatch } : {}) });
  const grads = vars.map((v, i) => Float32Array.from(before[i]!, (b, j) => b - (v.dataSync()[j] as number)));
  opt.dispose();
  session.dispose();
  f.dispose();
  return { losses, grads };
}

describe('knowledge storing over micro-batches (microBatch)', () => {
  for (const variant of ['kiopB', 'kiopBF', 'kiopT'] as const) {
    it(`${variant}: micro-batches of 3 of N = 8 give the whole batch's prompt gradient and losses (1e-5)`, () => {
      const whole = update(variant);
      const micro = update(variant, 3);
      expect(Object.keys(micro.losses).sort()).toEqual(Object.keys(whole.losses).sort());
      for (const [k, v] of Object.entries(whole.losses)) expect(Math.abs((micro.losses[k] as number) - v)).toBeLessThanOrEqual(1e-5 * Math.max(1, Math.abs(v)));
      let scale = 0;
      for (const g of whole.grads) for (const v of g) scale = Math.max(scale, Math.abs(v));
      expect(scale).toBeGreaterThan(0);
      whole.grads.forEach((g, i) => g.forEach((v, j) => expect(Math.abs((micro.grads[i]![j] as number) - v)).toBeLessThanOrEqual(1e-5 * scale)));
    });
  }

  it('leaves no tensor behind', async () => {
    const f = fakeContext('kiopB', { overrides: { batchSize: 8 } });
    const session = kiopVariantRegistry.get('kiopB').create(f.ctx);
    const opt = tf.train.momentum(0.1, 0.9);
    knowledgeStoringStep(session, opt, { weightDecay: 1e-4, microBatch: 3 });
    await expectNoTensorLeak(() => knowledgeStoringStep(session, opt, { weightDecay: 1e-4, microBatch: 3 }));
    opt.dispose();
    session.dispose();
    f.dispose();
  });

  it('Vanilla-KD trains the host itself and has no split form: microBatch is refused with a ConfigError', () => {
    const f = fakeContext('vanillaKd', { overrides: { batchSize: 8 } });
    const session = kiopVariantRegistry.get('vanillaKd').create(f.ctx);
    const opt = tf.train.sgd(0.1);
    expect(() => knowledgeStoringStep(session, opt, { weightDecay: 0, microBatch: 4 })).toThrow(ConfigError);
    opt.dispose();
    session.dispose();
    f.dispose();
  });
});
