import { BatchLoader, compose, evalBatches, kiopTransform, loadDataset, randomCropTransform, takePerClass, type ImageDataset } from '@promptkd/datasets/node';
import { combineCallbacks } from '@promptkd/core';
import { createProgress, modelCacheLock, partialCheckpointStore } from '@promptkd/experiments';
import { cacheKeyOf, evaluate, loadOrTrainCached, trainClassifier, type FunctionalClassifier } from '@promptkd/models/node';
import { buildPresetNetwork, pretrainRecipe, type ParticipantPreset } from './participant-presets.js';

/** A frozen model with its data, ready for a KiOP cell ({@link prepareParticipant}). */
export interface PreparedParticipant {
  readonly dataset: string;
  /** Frozen (`setTrainable(false)`); the caller disposes it. */
  readonly model: FunctionalClassifier;
  /** Training split (capped by the preset's `trainPerClass`). */
  readonly train: ImageDataset;
  /** Test split (capped by the preset's `testPerClass`). */
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
  /** Also every this many steps. */
  readonly everySteps?: number;
  /** Also every this many seconds (default 120). */
  readonly everySeconds?: number;
  /** Runs after each partial checkpoint is on disk (tests throw here to simulate a kill). */
  readonly afterSave?: (at: { readonly epoch: number; readonly step: number }) => void;
}

/** Options of {@link prepareParticipant}. */
export interface PrepareParticipantOptions {
  /** Dataset key (`mnist`, `fashionMnist`, ...): the model's task and its data. */
  readonly dataset: string;
  /** Architecture, pretraining recipe and data limits ({@link participantPresets}). */
  readonly preset: ParticipantPreset;
  /** Seed of the network's initialisation and of the pretraining's shuffling. */
  readonly seed: number;
  /** A safetensors file with PyTorch names; skips the cache and pretraining. */
  readonly weights?: string;
  /** Default: `@promptkd/models`' `modelCacheDir()`. */
  readonly cacheDir?: string;
  /** Where progress lines go (pretraining, resuming, waiting for another process's pretraining). */
  readonly log?: (line: string) => void;
  /** Partial-checkpoint cadence of a pretraining (default: every 120 s and every epoch). */
  readonly checkpoint?: PretrainCheckpointOptions;
}

/**
 * Loads `dataset` and the model (from `weights`, the model cache, or an in-app pretraining with SGD momentum 0.9
 * and cosine, cached under a key of the architecture, recipe, data limits and seed: `loadOrTrainCached`), then
 * measures its clean test accuracy. Processes sharing the cache pretrain a model once (a file lock); a killed
 * pretraining resumes from its partial checkpoint.
 *
 * @example
 * const host = await prepareParticipant({ dataset: 'mnist', preset: participantPresets.demo, seed: 0 });
 * // host.model (frozen), host.train / host.test, host.cleanAccuracy, host.weights (the cached safetensors file)
 */
export async function prepareParticipant(options: PrepareParticipantOptions): Promise<PreparedParticipant> {
  const { dataset, preset, seed } = options;
  const log = options.log ?? (() => {});
  const [fullTrain, fullTest] = await Promise.all([loadDataset(dataset, { split: 'train' }), loadDataset(dataset, { split: 'test' })]);
  const data = fullTrain.source ?? 'unknown source';
  const train = preset.trainPerClass ? takePerClass(fullTrain, preset.trainPerClass) : fullTrain;
  const test = preset.testPerClass ? takePerClass(fullTest, preset.testPerClass) : fullTest;
  const recipe = pretrainRecipe(preset, dataset);
  const { epochs, batchSize, lr, weightDecay } = recipe;
  const transform = recipe.augment === 'crop' ? compose(kiopTransform(dataset, 'train'), randomCropTransform({ padding: 2 })) : kiopTransform(dataset, 'train');
  const label = `${dataset} ${preset.arch}`;
  const { model, file } = await loadOrTrainCached({
    cacheKey: cacheKeyOf(`${dataset}-${preset.arch}`, { v: 1, dataset, arch: preset.arch, archConfig: preset.archConfig, pretrain: recipe, trainPerClass: preset.trainPerClass ?? null, seed }),
    ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
    ...(options.weights ? { weights: options.weights } : {}),
    build: () => buildPresetNetwork(preset, train.numClasses, seed),
    label,
    log,
    // processes sharing the cache (grid workers) pretrain a model once; the others wait and load it
    lock: modelCacheLock(log),
    metadata: { dataset, arch: preset.arch, recipe: JSON.stringify(recipe) },
    checkpoint: {
      store: (at) => partialCheckpointStore({ ...at, log }),
      ...(options.checkpoint?.everySteps !== undefined ? { everySteps: options.checkpoint.everySteps } : {}),
      ...(options.checkpoint?.everySeconds !== undefined ? { everySeconds: options.checkpoint.everySeconds } : {}),
      ...(options.checkpoint?.afterSave ? { onSaved: options.checkpoint.afterSave } : {}),
    },
    async train(m, callbacks) {
      log(`pretraining ${label} on ${train.count} images for ${epochs} epoch(s)`);
      const stepsPerEpoch = Math.ceil(train.count / batchSize);
      const progress = createProgress({ total: stepsPerEpoch * epochs, label: `pretrain ${label}` });
      try {
        await trainClassifier(
          m,
          (epoch) => new BatchLoader(train, { batchSize, shuffle: true, seed: seed * 1000 + epoch, transform }),
          {
            optimizer: 'sgd', lr, momentum: 0.9, weightDecay, epochs, cosine: true, seed, stepsPerEpoch,
            // absolute step: a resumed pretraining's bar starts where it left off
            callbacks: combineCallbacks(callbacks, { onStepEnd: ({ step, loss }) => progress.update(step, { loss: loss.toFixed(3) }) }),
          },
        );
      } finally {
        progress.stop();
      }
    },
  });
  model.setTrainable(false);
  const { accuracy } = await evaluate(model, evalBatches(test, { batchSize: 256, transform: kiopTransform(dataset, 'test') }));
  return { dataset, model, train, test, cleanAccuracy: accuracy, weights: file, data };
}
