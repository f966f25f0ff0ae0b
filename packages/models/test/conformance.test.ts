import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { disposeAll } from '@promptkd/core';
import { VisionTransformer, createModel, deserializeModel, modelRegistry, modelSmokeConfigs, serializeModel } from '@promptkd/models';
import { expectNoTensorLeak } from '@promptkd/testing';

function snapshot(m: { namedVariables(): ReadonlyMap<string, tf.Variable> }): Map<string, Float32Array> {
  return new Map([...m.namedVariables()].map(([k, v]) => [k, v.dataSync() as Float32Array]));
}

function sameValues(a: Map<string, Float32Array>, b: Map<string, Float32Array>): boolean {
  if (a.size !== b.size) return false;
  for (const [k, v] of a) {
    const w = b.get(k);
    if (!w || w.length !== v.length || v.some((x, i) => x !== w[i])) return false;
  }
  return true;
}

describe('model registry conformance', () => {
  it('every registered key has a smoke config and a description', () => {
    for (const e of modelRegistry.entries()) {
      expect(modelSmokeConfigs[e.key], e.key).toBeDefined();
      expect(e.description.length).toBeGreaterThan(10);
    }
    expect(modelRegistry.markdownTable()).toContain('`vgg13Bn`');
  });

  for (const key of modelRegistry.keys()) {
    it(`${key}: shape, finite, taps, no leak, seeded determinism, freeze, save/load round trip`, async () => {
      const smoke = modelSmokeConfigs[key] ?? {};
      const m = createModel(key, { ...smoke, seed: 1 });
      expect(m.name).toBe(key);
      const names = [...m.namedVariables().keys()];
      expect(m.headNames.length).toBe(2);
      for (const h of m.headNames) expect(names).toContain(h);
      expect(m.namedVariables().get(m.headNames[0]!)!.shape).toContain(m.numClasses);
      const size = m instanceof VisionTransformer ? m.imageSize : 32;
      const x = tf.randomUniform([2, size, size, m.inputChannels], 0, 1, 'float32', 7) as tf.Tensor4D;

      const taps = m.tapNames.filter((t) => t !== 'extra');
      const out = m.apply(x, { taps, bnTaps: true });
      expect(out.logits.shape).toEqual([2, m.numClasses]);
      expect(out.logits.dtype).toBe('float32');
      expect(tf.all(tf.isFinite(out.logits)).dataSync()[0]).toBe(1);
      expect(Object.keys(out.taps).sort()).toEqual([...taps].sort());
      expect(out.taps.features!.shape[0]).toBe(2);
      const hasBn = [...m.namedVariables().keys()].some((k) => k.endsWith('running_mean'));
      expect((out.bn ?? []).length > 0).toBe(hasBn);
      for (const b of out.bn ?? []) {
        expect(b.mean.shape).toEqual(b.runningMean.shape);
        expect(b.spatialMean!.shape).toEqual([2, b.mean.shape[0]]);
      }
      disposeAll(out);

      // No leaks: eval forward and a train-mode gradient step.
      await expectNoTensorLeak(() => disposeAll(m.apply(x)), { label: `${key} eval` });
      const vars = m.trainableVariables();
      expect(vars.length).toBeGreaterThan(0);
      const opt = tf.train.sgd(1e-3);
      await expectNoTensorLeak(() => tf.tidy(() => { opt.minimize(() => tf.mean(tf.square(m.apply(x, { training: true }).logits)), false, vars); }), { label: `${key} train step` });
      opt.dispose();

      // Seeded determinism.
      const a = createModel(key, { ...smoke, seed: 5 });
      const b = createModel(key, { ...smoke, seed: 5 });
      const c = createModel(key, { ...smoke, seed: 6 });
      expect(sameValues(snapshot(a), snapshot(b))).toBe(true);
      expect(sameValues(snapshot(a), snapshot(c))).toBe(false);

      // Freeze.
      a.setTrainable(false);
      expect(a.trainableVariables()).toEqual([]);
      a.setTrainable(true);
      expect(a.trainableVariables().length).toBe(vars.length);

      // Save/load round trip (PyTorch layout in between) reproduces weights, buffers and logits.
      const bytes = serializeModel(m);
      deserializeModel(c, bytes);
      expect(sameValues(snapshot(m), snapshot(c))).toBe(true);
      const l1 = m.apply(x).logits;
      const l2 = c.apply(x).logits;
      expect(Array.from(l2.dataSync())).toEqual(Array.from(l1.dataSync()));
      disposeAll([x, l1, l2]);
      for (const mm of [m, a, b, c]) mm.dispose();
    });
  }
});

describe('README', () => {
  it('contains the generated registry table', async () => {
    const { readFileSync } = await import('node:fs');
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(readme).toContain(modelRegistry.markdownTable());
  });
});
