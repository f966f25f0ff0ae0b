import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import type { ClassifierModel } from '@promptkd/core';
import { BatchLoader, dataCacheDir, evalBatches, kiopTransform, loadDataset, takePerClass, type ImageDataset } from '@promptkd/datasets/node';
import { createProgress, loadPartialTraining, savePartialTraining, withFileLock, type PartialTrainingCheckpoint } from '@promptkd/experiments';
import {
  createModel,
  evaluate,
  loadModelWeights,
  saveModelWeights,
  trainClassifier,
  type FunctionalClassifier,
  type TrainClassifierState,
} from '@promptkd/models/node';
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
  /** Where the images came from and the train/test split rule (the dataset's `source`). */
  readonly data: string;
}

/**
 * When pretraining writes its partial checkpoint (`<cache file>.partial/`): at every epoch end, plus every
 * `everySeconds` (default 120) and/or every `everySteps` steps. A killed pretraining resumes from it exactly.
 */
export interface PretrainCheckpointOptions {
  readonly everySteps?: number;
  readonly everySeconds?: number;
  /** Runs after each partial checkpoint is on disk (tests throw here to simulate a kill). */
  readonly afterSave?: (at: { readonly epoch: number; readonly step: number }) => void;
}

/** Default model cache: `$PROMPTKD_MODELS` or `~/.cache/promptkd/models`. */
export function modelCacheDir(): string {
  return process.env.PROMPTKD_MODELS ?? join(dataCacheDir(), '..', 'models');
}

async function splits(dataset: string, preset: BenchPreset): Promise<{ train: ImageDataset; test: ImageDataset; data: string }> {
  const [train, test] = await Promise.all([loadDataset(dataset, { split: 'train' }), loadDataset(dataset, { split: 'test' })]);
  return {
    data: train.source ?? 'unknown source',
    train: preset.trainPerClass ? takePerClass(train, preset.trainPerClass) : train,
    test: preset.testPerClass ? takePerClass(test, preset.testPerClass) : test,
  };
}

/** Builds an untrained network of the preset's architecture for a dataset with `numClasses` classes. */
export function buildNetwork(preset: BenchPreset, numClasses: number, seed: number): FunctionalClassifier {
  return createModel(preset.arch, { ...preset.archConfig, numClasses, seed }) as FunctionalClassifier;
}

/** Options of {@link prepareParticipant}. */
export interface PrepareParticipantOptions {
  readonly dataset: string;
  readonly preset: BenchPreset;
  readonly seed: number;
  /** A safetensors file with PyTorch names; skips the cache and pretraining. */
  readonly weights?: string;
  /** Default {@link modelCacheDir}. */
  readonly cacheDir?: string;
  readonly log?: (line: string) => void;
  /** Partial-checkpoint cadence of an in-app pretraining (default: every 120 s and every epoch). */
  readonly checkpoint?: PretrainCheckpointOptions;
}

/**
 * Loads `dataset`, then the model's weights from `weights` (a safetensors file with PyTorch names), else from the
 * cache, else pretrains it (SGD momentum 0.9, cosine) and caches it. The cache key covers the architecture,
 * recipe, data limits and seed, so a second run with the same settings reuses the checkpoint. A pretraining killed
 * midway resumes from `<cache file>.partial/` (see {@link PretrainCheckpointOptions}) to the same weights.
 */
export async function prepareParticipant(options: PrepareParticipantOptions): Promise<PreparedParticipant> {
  const { dataset } = options;
  const data = await splits(dataset, options.preset);
  const model = buildNetwork(options.preset, data.train.numClasses, options.seed);
  let source: string;
  try {
    source = await loadOrPretrain(model, data.train, options);
  } catch (err) {
    model.dispose();
    throw err;
  }
  model.setTrainable(false);
  const { accuracy } = await evaluate(model, evalBatches(data.test, { batchSize: 256, transform: kiopTransform(dataset, 'test') }));
  return { dataset, model, train: data.train, test: data.test, cleanAccuracy: accuracy, weights: source, data: data.data };
}

/** Fills `model` from the given weights, the cache, or an in-app pretraining (then cached); returns the file. */
async function loadOrPretrain(model: FunctionalClassifier, train: ImageDataset, options: PrepareParticipantOptions): Promise<string> {
  const { dataset, preset, seed } = options;
  const log = options.log ?? (() => {});
  if (options.weights) {
    await loadModelWeights(model, options.weights);
    return options.weights;
  }
  const key = createHash('sha256')
    .update(JSON.stringify({ v: 1, dataset, arch: preset.arch, archConfig: preset.archConfig, pretrain: preset.pretrain, trainPerClass: preset.trainPerClass ?? null, seed }))
    .digest('hex')
    .slice(0, 16);
  const dir = options.cacheDir ?? modelCacheDir();
  const file = join(dir, `${dataset}-${preset.arch}-${key}.safetensors`);
  if (existsSync(file)) {
    await loadModelWeights(model, file);
    log(`loaded cached ${dataset} ${preset.arch} from ${file}`);
    return file;
  }
  // Processes sharing the cache (grid workers on one machine or one shared folder) pretrain a model once: the others
  // wait for the lock, then load what the first cached.
  return withFileLock(
    file,
    async () => {
      if (existsSync(file)) {
        await loadModelWeights(model, file);
        log(`loaded cached ${dataset} ${preset.arch} from ${file} (pretrained by another process)`);
        return file;
      }
      const partial = `${file}.partial`;
      await pretrain(model, dataset, train, preset, seed, log, { dir: partial, cacheKey: basename(file), ...options.checkpoint });
      await mkdir(dir, { recursive: true });
      await saveModelWeights(model, file, { dataset, arch: preset.arch, recipe: JSON.stringify(preset.pretrain) });
      await rm(partial, { recursive: true, force: true });
      log(`cached ${dataset} ${preset.arch} at ${file}`);
      return file;
    },
    { onWait: () => log(`another process is pretraining ${dataset} ${preset.arch} (${basename(file)}); waiting for it`) },
  );
}

/** Where and how often {@link pretrain} checkpoints; `cacheKey` ties the partial checkpoint to its cache file. */
interface PartialCheckpoint extends PretrainCheckpointOptions, PartialTrainingCheckpoint {}


/**
 * Pretrains a host/source (SGD momentum 0.9, cosine), checkpointing into `at.dir` and resuming from it when it
 * holds a good checkpoint of the same cache key; the result is bit-identical to an uninterrupted pretraining.
 */
async function pretrain(
  model: ClassifierModel,
  dataset: string,
  train: ImageDataset,
  preset: BenchPreset,
  seed: number,
  log: (line: string) => void,
  at: PartialCheckpoint,
): Promise<void> {
  const { epochs, batchSize, lr, weightDecay } = preset.pretrain;
  const steps = Math.ceil(train.count / batchSize) * epochs;
  const resume = await loadPartialTraining<TrainClassifierState>(at, model.namedVariables(), log);
  if (resume) log(`resuming pretraining of ${dataset} ${preset.arch} at epoch ${resume.epoch}, step ${resume.step}`);
  else log(`pretraining ${dataset} ${preset.arch} on ${train.count} images for ${epochs} epoch(s)`);
  let done = resume?.step ?? 0;
  const progress = createProgress({ total: steps, label: `pretrain ${dataset} ${preset.arch}`, start: done });
  try {
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
        ...(resume ? { resume } : {}),
        checkpoint: {
          everySeconds: at.everySeconds ?? (at.everySteps === undefined ? 120 : undefined),
          everySteps: at.everySteps,
          save: (state) => savePartialTraining(at, model.namedVariables(), state),
        },
        onProgress: (p) => {
          progress.tick(p.step - done, { loss: p.loss.toFixed(3) });
          done = p.step;
        },
      },
    );
  } finally {
    progress.stop();
  }
}
