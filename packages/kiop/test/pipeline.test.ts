import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import { loadDataset, takePerClass, type ImageDataset } from '@promptkd/datasets/node';
import { CmiGenerator, bnOverrideTensors, createModel, type FunctionalClassifier } from '@promptkd/models';
import {
  FusedModels,
  PROMPT_BN_IMAGES,
  createKiopContext,
  kiopConfigSchema,
  kiopPresets,
  top1Accuracy,
  trainKiop,
  KIOP_VARIANTS,
  type KiopConfig,
} from '@promptkd/kiop';
import { evalBatches, kiopTransform } from '@promptkd/datasets';

// End-to-end smoke of every variant through the real pipeline: BN CNNs, real (tiny) MNIST / Fashion-MNIST
// subsets, CMI synthesis with the CMI generator, nested prompt, random label mapping. Seconds, not accuracy.
const net = (k: number, seed: number) => createModel('bnCnn', { blocks: [4, 8], numClasses: k, seed }) as FunctionalClassifier;

let data: Record<string, { train: ImageDataset; test: ImageDataset }>;

beforeAll(async () => {
  data = {};
  for (const ds of ['mnist', 'fashionMnist']) {
    const [train, test] = await Promise.all([loadDataset(ds, { split: 'train' }), loadDataset(ds, { split: 'test' })]);
    data[ds] = { train: takePerClass(train, 2), test: takePerClass(test, 1) };
  }
});

describe('KiOP pipeline smoke (every variant, end to end)', () => {
  for (const variant of KIOP_VARIANTS) {
    it(variant, async () => {
      const sources = variant === 'multiModel' ? ['fashionMnist', 'mnist'] : ['fashionMnist'];
      const config: KiopConfig = kiopConfigSchema.parse({
        ...kiopPresets.smoke,
        variant,
        seed: 1,
        epochs: 1,
        kdSteps: 2,
        batchSize: 4,
        promptSizes: variant === 'multiModel' ? [32, 36, 40, 44] : [32, 36, 40],
        synthesis: { ...kiopPresets.smoke.synthesis, gSteps: 2, bankCapacity: 16, nNeg: 8 },
      });
      const host = net(20, 1); // 20 ≥ 10 + 10 classes: room for two disjoint label-mapping slices
      const srcModels = sources.map((_, i) => net(10, 2 + i));
      for (const m of [host, ...srcModels]) m.setTrainable(false);
      const before = tf.memory().numTensors;
      const { ctx, dispose } = createKiopContext({
        config,
        host: { dataset: 'mnist', model: host, test: data.mnist!.test, train: data.mnist!.train },
        sources: sources.map((ds, i) => ({ dataset: ds, model: srcModels[i]!, test: data[ds]!.test, train: data[ds]!.train })),
        createGenerator: ({ nz, ngf, imageSize, channels, seed }) => new CmiGenerator({ nz, ngf, imageSize, channels, seed }),
        buildHostLike: (k) => net(k, 1),
      });
      const result = await trainKiop(ctx);
      dispose();
      expect(tf.memory().numTensors).toBe(before);
      expect(result.epochs).toHaveLength(1);
      for (const v of Object.values(result.final)) expect(v).toBeGreaterThanOrEqual(0);
      expect(Object.keys(result.final)).toContain('accB');
      for (const m of [host, ...srcModels]) m.dispose();
    });
  }
});

/** A dataset whose every read throws: proves a code path never touches it. */
function untouchable(ds: ImageDataset): ImageDataset {
  return new Proxy(ds, {
    get(_target, key) {
      throw new Error(`the source's training split was read (${String(key)}) by a data-free variant`);
    },
  });
}

describe('host BatchNorm modes', () => {
  for (const hostBnTrainMode of [false, true]) {
    for (const variant of ['kiopB', 'kiopBF', 'realDataRef'] as const) {
      it(`${variant}, hostBnTrainMode ${hostBnTrainMode}: host weights and running statistics stay bit-unchanged`, async () => {
        const config: KiopConfig = kiopConfigSchema.parse({
          ...kiopPresets.smoke,
          variant,
          seed: 3,
          epochs: 1,
          kdSteps: 3,
          batchSize: 4,
          promptSizes: [32, 36, 40],
          synthesis: { ...kiopPresets.smoke.synthesis, gSteps: 2, bankCapacity: 16, nNeg: 8 },
          fidelity: { ...kiopPresets.smoke.fidelity, hostBnTrainMode },
        });
        const host = net(10, 1);
        const source = net(10, 2);
        for (const m of [host, source]) m.setTrainable(false);
        const before = [...host.namedVariables()].map(([k, v]) => [k, Array.from(v.dataSync())] as const);
        const tensorsBefore = tf.memory().numTensors;
        const { ctx, dispose } = createKiopContext({
          config,
          host: { dataset: 'mnist', model: host, test: data.mnist!.test, train: data.mnist!.train },
          // the data-free variants must never read the source's training images (not even for the BN statistics)
          sources: [{ dataset: 'fashionMnist', model: source, test: data.fashionMnist!.test, train: variant === 'realDataRef' ? data.fashionMnist!.train : untouchable(data.fashionMnist!.train) }],
          createGenerator: ({ nz, ngf, imageSize, channels, seed }) => new CmiGenerator({ nz, ngf, imageSize, channels, seed }),
        });
        const result = await trainKiop(ctx);
        // prompt-specific BN statistics: only for a batch-statistics host, measured on the synthetic bank B or, for the
        // real-data reference, on the source's real training images; the reported accuracy is the eval-mode one with them
        if (hostBnTrainMode) {
          const [stats] = result.promptBnStatistics ?? [];
          expect(result.promptBnStatistics).toHaveLength(1);
          expect(stats!.data).toBe(variant === 'realDataRef' ? 'real training images' : 'synthetic bank B');
          expect(stats!.statistics.images).toBe(PROMPT_BN_IMAGES);
          expect(Object.keys(stats!.statistics.layers)).toEqual([...host.namedVariables().keys()].filter((n) => n.endsWith('.running_mean')).map((n) => n.split('.')[0]));
          const override = bnOverrideTensors(stats!.statistics);
          const fused = new FusedModels(host, ctx.prompt, ctx.mappings, config.fidelity);
          const direct = await top1Accuracy(
            (x) => fused.smkWithStatistics(1, x, override),
            () => evalBatches(data.fashionMnist!.test, { batchSize: 3, transform: kiopTransform('fashionMnist', 'test') }),
          );
          expect(stats!.accuracy).toBe(direct);
          tf.dispose(Object.values(override).flatMap((o) => [o.mean, o.variance]));
        } else {
          expect(result.promptBnStatistics).toBeUndefined();
        }
        dispose();
        expect(tf.memory().numTensors).toBe(tensorsBefore);
        const after = new Map([...host.namedVariables()].map(([k, v]) => [k, Array.from(v.dataSync())]));
        for (const [k, v] of before) expect(after.get(k), k).toEqual(v);
        // the diagnostics of every bank it trains on are reported (the real-data reference: its real images), and at
        // epoch 0 the untrained prompt's accuracies
        const diag = result.epochs[0]!.diagnostics ?? {};
        const untrained = ['untrained.accA', 'untrained.accB', 'untrained.predictedClassesB'];
        const banks = variant === 'kiopBF' ? ['bankAgreementA', 'bankAgreementB'] : ['bankAgreementB'];
        const alignment = ['alignment.hostB', 'alignment.sourceB'];
        const separability = ['separability.hostB', 'separability.sourceB'];
        expect(Object.keys(diag).sort()).toEqual([...alignment, ...banks, ...separability, ...untrained]);
        expect(Object.keys(result.epochs[1]?.diagnostics ?? {}).some((k) => k.startsWith('untrained.'))).toBe(false);
        for (const v of Object.values(diag)) expect(v).toBeGreaterThanOrEqual(0);
        for (const k of [...alignment, ...separability]) expect(diag[k]).toBeLessThanOrEqual(1);
        expect(result.final.predictedClassesB).toBeGreaterThanOrEqual(1);
        expect(result.final.predictedClassesB).toBeLessThanOrEqual(10);
        if (variant === 'realDataRef') expect(result.epochs[0]!.synthesis).toEqual({});
        else expect(result.epochs[0]!.synthesis.B).toHaveProperty('targetAgreement');
        for (const m of [host, source]) m.dispose();
      });
    }
  }
});

describe('prompt-specific BN statistics', () => {
  for (const variant of ['vanillaKd'] as const) {
    it(`${variant}, hostBnTrainMode true: no prompt, no statistics`, async () => {
      const config: KiopConfig = kiopConfigSchema.parse({
        ...kiopPresets.smoke,
        variant,
        seed: 4,
        epochs: 1,
        kdSteps: 2,
        batchSize: 4,
        promptSizes: [32, 36, 40],
        synthesis: { ...kiopPresets.smoke.synthesis, gSteps: 2, bankCapacity: 16, nNeg: 8 },
        fidelity: { ...kiopPresets.smoke.fidelity, hostBnTrainMode: true },
      });
      const host = net(10, 1);
      const source = net(10, 2);
      for (const m of [host, source]) m.setTrainable(false);
      const { ctx, dispose } = createKiopContext({
        config,
        host: { dataset: 'mnist', model: host, test: data.mnist!.test, train: data.mnist!.train },
        sources: [{ dataset: 'fashionMnist', model: source, test: data.fashionMnist!.test, train: data.fashionMnist!.train }],
        createGenerator: ({ nz, ngf, imageSize, channels, seed }) => new CmiGenerator({ nz, ngf, imageSize, channels, seed }),
        buildHostLike: (k) => net(k, 1),
      });
      const result = await trainKiop(ctx);
      dispose();
      expect(result.promptBnStatistics).toBeUndefined();
      for (const m of [host, source]) m.dispose();
    });
  }
});

describe('synthesis.colour', () => {
  it('draws one grey channel for grey teachers when asked (grey, or dataset with a grey dataset), every channel otherwise', () => {
    const rgbTest = { ...data.fashionMnist!.test, channels: 3 } as ImageDataset;
    const cases: Array<[colour: 'rgb' | 'grey' | 'dataset' | undefined, sourceTest: ImageDataset, drawn: number]> = [
      [undefined, data.fashionMnist!.test, 3],
      ['rgb', data.fashionMnist!.test, 3],
      ['grey', rgbTest, 1],
      ['dataset', data.fashionMnist!.test, 1],
      ['dataset', rgbTest, 3],
    ];
    for (const [colour, sourceTest, drawn] of cases) {
      const config: KiopConfig = kiopConfigSchema.parse({
        ...kiopPresets.smoke,
        variant: 'kiopT',
        seed: 1,
        promptSizes: [32, 36, 40],
        synthesis: { ...kiopPresets.smoke.synthesis, colour },
      });
      const before = tf.memory().numTensors;
      const host = net(10, 1);
      const source = net(10, 2);
      const asked: number[] = [];
      const { ctx, dispose } = createKiopContext({
        config,
        host: { dataset: 'mnist', model: host, test: data.mnist!.test },
        sources: [{ dataset: 'fashionMnist', model: source, test: sourceTest }],
        createGenerator: ({ nz, ngf, imageSize, channels, seed }) => {
          asked.push(channels);
          return new CmiGenerator({ nz, ngf, imageSize, channels, seed });
        },
      });
      const synthesizer = ctx.createSynthesizer({ bank: 'B', teacher: source, numClasses: 10, rng: ctx.rng });
      expect(asked, `colour ${colour}`).toEqual([drawn]);
      synthesizer.dispose?.();
      dispose();
      host.dispose();
      source.dispose();
      expect(tf.memory().numTensors).toBe(before);
    }
  });
});

describe('promptSizes[0] (the prompt core)', () => {
  it('must be the size the datasets’ transform gives: a core of 40 for 32-px images is refused before any work', () => {
    const before = tf.memory().numTensors;
    const host = net(10, 1);
    const source = net(10, 2);
    let generators = 0;
    const make = (promptSizes: number[]) =>
      createKiopContext({
        config: kiopConfigSchema.parse({ ...kiopPresets.smoke, variant: 'kiopB', seed: 1, promptSizes }),
        host: { dataset: 'mnist', model: host, test: data.mnist!.test, train: data.mnist!.train },
        sources: [{ dataset: 'fashionMnist', model: source, test: data.fashionMnist!.test }],
        createGenerator: ({ nz, ngf, imageSize, channels, seed }) => {
          generators++;
          return new CmiGenerator({ nz, ngf, imageSize, channels, seed });
        },
      });
    expect(() => make([40, 44, 48])).toThrow(ConfigError);
    expect(() => make([40, 44, 48])).toThrow(/promptSizes\[0\] = 40 is the prompt core, which holds the mnist images as the dataset's transform gives them: 32×32 px\. Set promptSizes\[0\] to 32/);
    expect(generators).toBe(0);
    const { dispose } = make([32, 36, 48]); // the core of the presets: accepted
    dispose();
    host.dispose();
    source.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
