import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, Rng } from '@promptkd/core';
import { expectNoTensorLeak } from '@promptkd/testing';
import {
  CMISynthesizer,
  CMI_PRESETS,
  type CmiConfig,
  type CmiIterationLosses,
  cmiResetParameters,
  quantizeToUint8,
  resolveCmiConfig,
  totalVariationLoss,
} from '@promptkd/data-free';
import { CmiGenerator } from '@promptkd/models';
import { fixtureBnCnn } from './helpers.js';
import { TinyGenerator } from './tiny-generator.js';

const tiny: Partial<CmiConfig> = {
  batchSize: 4,
  iterations: 5,
  nz: 6,
  bankCapacity: 16,
  negatives: 6,
  headHidden: 8,
  headDim: 4,
  seed: 3,
};

describe('cmiResetParameters (generator re-initialisation)', () => {
  it('draws conv/linear weights ~ N(0, 0.02), BN weights ~ N(1, 0.02), zero biases, and leaves buffers alone', () => {
    const params = new Map<string, tf.Variable>([
      ['conv.weight', tf.variable(tf.ones([3, 3, 32, 32]))],
      ['bn.weight', tf.variable(tf.zeros([4096]))],
      ['bn.bias', tf.variable(tf.ones([4096]))],
      ['bn.running_mean', tf.variable(tf.fill([4], 7))],
    ]);
    const before = tf.memory().numTensors;
    cmiResetParameters(params, Rng.fromSeed(0));
    expect(tf.memory().numTensors).toBe(before);
    const stats = (name: string): [number, number] => {
      const v = Array.from(params.get(name)!.dataSync());
      const m = v.reduce((a, b) => a + b, 0) / v.length;
      return [m, Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / v.length)];
    };
    const [cm, cs] = stats('conv.weight');
    expect(Math.abs(cm)).toBeLessThan(0.002);
    expect(Math.abs(cs - 0.02)).toBeLessThan(0.001);
    const [bm, bs] = stats('bn.weight');
    expect(Math.abs(bm - 1)).toBeLessThan(0.002);
    expect(Math.abs(bs - 0.02)).toBeLessThan(0.001);
    expect(Array.from(params.get('bn.bias')!.dataSync()).every((v) => v === 0)).toBe(true);
    expect(Array.from(params.get('bn.running_mean')!.dataSync())).toEqual([7, 7, 7, 7]);
    for (const v of params.values()) v.dispose();
  });
});

describe('CMISynthesizer', () => {
  it('validates memory sizes and presets', () => {
    expect(() => resolveCmiConfig({ batchSize: 32, bankCapacity: 1000 })).toThrow(/divisible by batchSize 32/);
    expect(() => resolveCmiConfig({ crTemperature: 0 })).toThrow(ConfigError);
    expect(() => resolveCmiConfig({}, 'nope' as 'paper')).toThrow(/Unknown CMI preset/);
    expect(resolveCmiConfig()).toMatchObject({ batchSize: 128, iterations: 200, lrGenerator: 0.01, bn: 1, oh: 1, adv: 0.5, cr: 0.8, crTemperature: 0.6, bankCapacity: 40960, negatives: 4096, headDim: 256 });
    for (const p of Object.values(CMI_PRESETS)) expect(p.bankCapacity % p.batchSize).toBe(0);
    expect(resolveCmiConfig({ headHidden: undefined }, 'cpu').headHidden).toBeUndefined();
  });

  it('one round: re-initialises G, keeps the minimum-loss iteration and appends it to both banks', async () => {
    const teacher = fixtureBnCnn(import.meta.url);
    const gen = new TinyGenerator(6);
    const outputs: Uint8Array[] = [];
    const recording = {
      latentDim: gen.latentDim,
      apply: (z: tf.Tensor2D) => {
        const x = gen.apply(z);
        outputs.push(quantizeToUint8(x.dataSync()));
        return x;
      },
      trainableVariables: () => gen.trainableVariables(),
      reinitialize: (rng: Rng) => gen.reinitialize(rng),
    };
    const seen: CmiIterationLosses[] = [];
    const syn = new CMISynthesizer({ teacher, generator: recording, config: tiny, onIteration: (_i, l) => seen.push(l) });
    expect(syn.featureDim).toBe(9);
    expect(syn.imageShape).toEqual([8, 8, 3]);
    outputs.length = 0; // drop the shape probe
    const step = await syn.synthesize();
    expect(gen.reinitCalls).toBe(1);
    expect(seen.length).toBe(5);
    const totals = seen.map((s) => s.total);
    const argmin = totals.indexOf(Math.min(...totals));
    expect(step.losses.iteration).toBe(argmin);
    expect(step.losses.total).toBe(totals[argmin]);
    for (const k of ['bn', 'oh', 'cr'] as const) expect(Number.isFinite(step.losses[k]!)).toBe(true);
    expect(step.losses.adv).toBe(0); // no student
    expect(step.bankSize).toBe(4);
    expect(syn.featureBank.size).toBe(4);
    expect(syn.imageBank.labels.length).toBe(4);
    expect([...syn.imageBank.labels]).toEqual([...syn.imageBank.labels].sort((a, b) => a - b)); // sorted targets y
    expect(Array.from(syn.imageBank.toUint8())).toEqual(Array.from(outputs[argmin]!));
    // the generator is re-initialised at the start of the next round: its weights change again
    const w = Array.from(gen.params.get('l1.0.weight')!.dataSync());
    await syn.synthesize();
    expect(gen.reinitCalls).toBe(2);
    expect(syn.imageBank.size).toBe(8);
    expect(Array.from(gen.params.get('l1.0.weight')!.dataSync())).not.toEqual(w);
    const s = syn.sample(6);
    expect(s.shape).toEqual([6, 8, 8, 3]);
    const v = s.dataSync();
    expect(v.every((x) => x >= 0 && x <= 1 && Math.abs(x * 255 - Math.round(x * 255)) < 1e-3)).toBe(true);
    s.dispose();
    syn.dispose();
    gen.dispose();
    teacher.dispose();
  });

  it('uses the adversarial student when given and leaks no tensor across a round', async () => {
    const teacher = fixtureBnCnn(import.meta.url);
    const gen = new TinyGenerator(6);
    const student = (x: tf.Tensor4D): tf.Tensor2D => tf.tidy(() => tf.mul(teacher.apply(x).logits, 0.5));
    const syn = new CMISynthesizer({ teacher, generator: gen, student, config: { ...tiny, iterations: 3 } });
    const step = await syn.synthesize(); // warm-up: the head optimiser creates its slots
    expect(step.losses.adv).toBeLessThanOrEqual(0);
    expect(step.losses.adv).not.toBe(0);
    await expectNoTensorLeak(() => syn.synthesize(), { warmup: false, label: 'CMI round' });
    expect(syn.featureBank.size).toBe(8); // negatives now come from the bank
    syn.dispose();
    gen.dispose();
    teacher.dispose();
  });

  it('is deterministic for a seed', async () => {
    const run = async (): Promise<number[]> => {
      const teacher = fixtureBnCnn(import.meta.url);
      const gen = new TinyGenerator(6);
      const syn = new CMISynthesizer({ teacher, generator: gen, config: { ...tiny, iterations: 2 } });
      await syn.synthesize();
      const out = Array.from(syn.imageBank.toUint8());
      syn.dispose();
      gen.dispose();
      teacher.dispose();
      return out;
    };
    expect(await run()).toEqual(await run());
  });

  it("runs with @promptkd/models' CmiGenerator (nz read from its config)", async () => {
    const teacher = fixtureBnCnn(import.meta.url);
    const gen = new CmiGenerator({ nz: 5, ngf: 2, imageSize: 8, channels: 3, seed: 1 });
    const syn = new CMISynthesizer({ teacher, generator: gen, config: { ...tiny, nz: 99, iterations: 2 } });
    const before = Array.from(gen.namedVariables().get('l1.0.weight')!.dataSync());
    const step = await syn.synthesize();
    expect(step.bankSize).toBe(4);
    expect(Array.from(gen.namedVariables().get('l1.0.weight')!.dataSync())).not.toEqual(before);
    syn.dispose();
    gen.dispose();
    teacher.dispose();
  });

  it('tv adds tv·R_TV of the generated images to the total (and 0 leaves the reference loss)', async () => {
    const run = async (tv: number) => {
      const teacher = fixtureBnCnn(import.meta.url);
      const gen = new TinyGenerator(6);
      const images: tf.Tensor4D[] = [];
      const recording = {
        latentDim: gen.latentDim,
        apply: (z: tf.Tensor2D) => {
          const x = gen.apply(z);
          images.push(tf.keep(x.clone()));
          return x;
        },
        trainableVariables: () => gen.trainableVariables(),
        reinitialize: (rng: Rng) => gen.reinitialize(rng),
      };
      const seen: CmiIterationLosses[] = [];
      const syn = new CMISynthesizer({ teacher, generator: recording, config: { ...tiny, iterations: 1, tv }, onIteration: (_i, l) => seen.push(l) });
      tf.dispose(images.splice(0)); // drop the shape probe
      await syn.synthesize();
      const prior = totalVariationLoss(images[0]!);
      const expected = (await prior.data())[0]!;
      tf.dispose([prior, ...images]);
      syn.dispose();
      gen.dispose();
      teacher.dispose();
      return { losses: seen[0]!, expected };
    };
    const off = await run(0);
    const on = await run(3);
    expect(off.losses.tv).toBe(0);
    expect(on.expected).toBeGreaterThan(0);
    // one iteration: the same G(z) in both runs, so the totals differ by exactly the weighted prior
    expect(on.losses.tv).toBeCloseTo(on.expected, 6);
    expect(on.losses.total - off.losses.total).toBeCloseTo(3 * on.expected, 4);
    expect(() => resolveCmiConfig({ tv: -1 })).toThrow(/'tv' must be a finite number ≥ 0/);
  });

  it('cr = 0 skips the contrastive branch (no features banked) but keeps targets and z identical', async () => {
    const make = (cr: number) => {
      const teacher = fixtureBnCnn(import.meta.url);
      const gen = new TinyGenerator(6);
      return { teacher, gen, syn: new CMISynthesizer({ teacher, generator: gen, config: { ...tiny, iterations: 1, cr } }) };
    };
    const a = make(0);
    const b = make(0.8);
    const sa = await a.syn.synthesize();
    await b.syn.synthesize();
    expect(sa.losses.cr).toBe(0);
    expect(a.syn.featureBank.size).toBe(0);
    expect(b.syn.featureBank.size).toBe(4);
    // one iteration: the kept images are G(z) before any update, identical in both runs
    expect(Array.from(a.syn.imageBank.toUint8())).toEqual(Array.from(b.syn.imageBank.toUint8()));
    expect(a.syn.imageBank.labels).toEqual(b.syn.imageBank.labels);
    for (const r of [a, b]) {
      r.syn.dispose();
      r.gen.dispose();
      r.teacher.dispose();
    }
  });
});
