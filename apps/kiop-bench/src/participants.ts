import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import type { ClassifierModel } from '@promptkd/core';
import { BatchLoader, dataCacheDir, evalBatches, kiopTransform, loadDataset, takePerClass, type ImageDataset } from '@promptkd/datasets';
import { createProgress } from '@promptkd/experiments';
import { createModel, evaluate, loadModelWeights, saveModelWeights, trainClassifier, type FunctionalClassifier } from '@promptkd/models';
import type { BenchPreset } from './bench-presets.js';

/** A model with its data, ready for a KiOP cell. */
export interface PreparedParticipant {
  readonly dataset: string;
  readonly model: FunctionalClassifier;
  readonly train: ImageDataset;
  readonly test: ImageDataset;
  /** Top-1 on the (possibly capped) test split: the "clean" accuracy Acc.A/Acc.B are compared with. */
  readonly cleanAccuracy: number;
  /** Where the weights came from. */
  readonly weights: string;
}

/** Default model cache: `$PROMPTKD_MODELS` or `~/.cache/promptkd/models`. */
export function modelCacheDir(): string {
  return process.env.PROMPTKD_MODELS ?? join(dataCacheDir(), '..', 'models');
}

async function splits(dataset: string, preset: BenchPreset): Promise<{ train: ImageDataset; test: ImageDataset }> {
  const [train, test] = await Promise.all([loadDataset(dataset, { split: 'train' }), loadDataset(dataset, { split: 'test' })]);
  return {
    train: preset.trainPerClass ? takePerClass(train, preset.trainPerClass) : train,
    test: preset.testPerClass ? takePerClass(test, preset.testPerClass) : test,
  };
}

/** Builds an untrained network of the preset's architecture for a dataset with `numClasses` classes. */
export function buildNetwork(preset: BenchPreset, numClasses: number, seed: number): FunctionalClassifier {
  return createModel(preset.arch, { ...preset.archConfig, numClasses, seed }) as FunctionalClassifier;
}

/**
 * Loads `dataset`, then the model's weights from `weights` (a safetensors file with PyTorch names), else from the
 * cache, else pretrains it (SGD momentum 0.9, cosine) and caches it. The cache key covers the architecture,
 * recipe, data limits and seed, so a second run with the same settings reuses the checkpoint.
 */
export async function prepareParticipant(options: {
  dataset: string;
  preset: BenchPreset;
  seed: number;
  weights?: string;
  cacheDir?: string;
  log?: (line: string) => void;
}): Promise<PreparedParticipant> {
  const { dataset, preset, seed } = options;
  const log = options.log ?? (() => {});
  const data = await splits(dataset, preset);
  const model = buildNetwork(preset, data.train.numClasses, seed);
  const testSet = () => evalBatches(data.test, { batchSize: 256, transform: kiopTransform(dataset, 'test') });
  let source: string;
  if (options.weights) {
    await loadModelWeights(model, options.weights);
    source = options.weights;
  } else {
    const key = createHash('sha256')
      .update(JSON.stringify({ v: 1, dataset, arch: preset.arch, archConfig: preset.archConfig, pretrain: preset.pretrain, trainPerClass: preset.trainPerClass ?? null, seed }))
      .digest('hex')
      .slice(0, 16);
    const dir = options.cacheDir ?? modelCacheDir();
    const file = join(dir, `${dataset}-${preset.arch}-${key}.safetensors`);
    if (existsSync(file)) {
      await loadModelWeights(model, file);
      log(`loaded cached ${dataset} ${preset.arch} from ${file}`);
    } else {
      await pretrain(model, dataset, data.train, preset, seed, log);
      await mkdir(dir, { recursive: true });
      await saveModelWeights(model, file, { dataset, arch: preset.arch, recipe: JSON.stringify(preset.pretrain) });
      log(`cached ${dataset} ${preset.arch} at ${file}`);
    }
    source = file;
  }
  model.setTrainable(false);
  const { accuracy } = await evaluate(model, testSet());
  return { dataset, model, train: data.train, test: data.test, cleanAccuracy: accuracy, weights: source };
}

async function pretrain(
  model: ClassifierModel,
  dataset: string,
  train: ImageDataset,
  preset: BenchPreset,
  seed: number,
  log: (line: string) => void,
): Promise<void> {
  const { epochs, batchSize, lr, weightDecay } = preset.pretrain;
  const steps = Math.ceil(train.count / batchSize) * epochs;
  const progress = createProgress({ total: steps, label: `pretrain ${dataset} ${preset.arch}` });
  log(`pretraining ${dataset} ${preset.arch} on ${train.count} images for ${epochs} epoch(s)`);
  let done = 0;
  await trainClassifier(
    model,
    (epoch) => new BatchLoader(train, { batchSize, shuffle: true, seed: seed * 1000 + epoch, transform: kiopTransform(dataset, 'train') }),
    {
      optimizer: 'sgd',
      lr,
      momentum: 0.9,
      weightDecay,
      epochs,
      cosine: true,
      seed,
      onProgress: (p) => {
        progress.tick(p.step - done, { loss: p.loss.toFixed(3) });
        done = p.step;
      },
    },
  );
  progress.stop();
}
