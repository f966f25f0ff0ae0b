import { join } from 'node:path';
import { ConfigError, combineCallbacks } from '@promptkd/core';
import { fromVisionTransformer, type PromptableViT } from '@promptkd/continual';
import { BatchLoader, disposeTensorTasks, evalBatches, resizeTransform, type ImageDataset, type Transform } from '@promptkd/datasets/node';
import { createProgress, modelCacheLock, partialCheckpointStore } from '@promptkd/experiments';
import { VisionTransformer, cacheKeyOf, evaluate, loadOrTrainCached, modelCacheDir, trainClassifier } from '@promptkd/models/node';
import { loadCdlData } from './cdl-data.js';
import type { KdpRunPreset, VitShape } from './presets.js';

/** The two backbones of continual distillation. */
export type CdlRole = 'teacher' | 'student';

/** A frozen backbone ready for prompting. */
export interface PreparedCdlBackbone {
  /** The ViT (owned by the caller: dispose it when done). */
  readonly vit: VisionTransformer;
  /** The same ViT as the CL code takes it. */
  readonly backbone: PromptableViT;
  /** Checkpoint the weights came from (timm file or the in-app pretraining cache). */
  readonly weights: string;
  /** In-app pretraining only: top-1 of the pretraining head on the (capped) test split, all classes. */
  readonly pretrainTestAccuracy?: number;
  readonly pretrainSeconds?: number;
}

/**
 * When backbone pretraining writes its partial checkpoint (`<cache file>.partial/`): at every epoch end, plus every
 * `everySeconds` (default 120) and/or every `everySteps` steps. A killed pretraining resumes from it exactly.
 */
export interface PretrainCheckpointOptions {
  readonly everySteps?: number;
  readonly everySeconds?: number;
  /** Runs after each partial checkpoint is on disk (tests throw here to simulate a kill). */
  readonly afterSave?: (at: { readonly epoch: number; readonly step: number }) => void;
}

/** Options of {@link prepareCdlBackbone}. */
export interface PrepareCdlBackboneOptions {
  readonly role: CdlRole;
  readonly preset: KdpRunPreset;
  /** Held-out pretraining images (all classes); needed only when the backbone is pretrained in-app. */
  readonly pool?: ImageDataset;
  /** Test images to report the pretraining head's accuracy on; needed with `pool`. */
  readonly test?: ImageDataset;
  /** A timm `vit_*` safetensors state dict to load instead (its classifier head is ignored). */
  readonly weights?: string;
  /** Model cache (default: `@promptkd/models`' `modelCacheDir()`). */
  readonly cacheDir?: string;
  /** No progress bar. */
  readonly quiet?: boolean;
  readonly log?: (line: string) => void;
  /** Partial-checkpoint cadence of an in-app pretraining (default: every 120 s and every epoch). */
  readonly checkpoint?: PretrainCheckpointOptions;
}

/** Fixed init seeds of the two backbones: every cell and seed uses the same frozen backbones. */
const INIT_SEED = { teacher: 1, student: 2 } as const;

function vitOf(shape: VitShape, numClasses: number, seed: number): VisionTransformer {
  return new VisionTransformer({
    imageSize: shape.imageSize,
    patchSize: shape.patchSize,
    inputChannels: shape.channels,
    dim: shape.dim,
    depth: shape.depth,
    heads: shape.heads,
    mlpRatio: shape.mlpRatio,
    numClasses,
    seed,
  });
}

const isHead = (name: string) => name.startsWith('head.');

/** The model-cache key of an in-app pretrained backbone (hash of shape, recipe, dataset and pool). */
function backboneCacheKey(role: CdlRole, preset: KdpRunPreset): string {
  const shape = preset[role];
  const recipe = { v: 1, role, seed: INIT_SEED[role], dataset: preset.data.dataset, shape, pretraining: preset.pretraining ?? null };
  return cacheKeyOf(`kdp-${preset.data.dataset}-${role}-d${shape.dim}x${shape.depth}`, recipe);
}

/**
 * The cache file of a preset's in-app pretrained teacher or student backbone (whether or not it exists yet):
 * `<cacheDir>/kdp-<dataset>-<role>-d<D>x<depth>-<hash of shape, recipe, dataset>.safetensors`.
 */
export function cdlBackboneCacheFile(role: CdlRole, preset: KdpRunPreset, cacheDir = modelCacheDir()): string {
  return join(cacheDir, `${backboneCacheKey(role, preset)}.safetensors`);
}

/**
 * The teacher or student backbone of a preset, frozen and headless: from `weights` (a timm `vit_*` safetensors
 * state dict; the classifier head is ignored) when given, else from the model cache, else pretrained on the
 * held-out pool (a CPU stand-in for ImageNet pretraining, kdp-spec §8.2: the preset's `pretraining` recipe, Adam,
 * cosine, with a head) and cached (`loadOrTrainCached`). Processes sharing the cache pretrain a backbone once
 * (file lock). A pretraining killed midway resumes from `<cache file>.partial/` (see
 * {@link PretrainCheckpointOptions}) to the same weights. Throws {@link ConfigError} when there are no weights,
 * no cached file and no recipe (or no pool).
 *
 * @example
 * ```ts
 * const data = await loadCdlData(preset, { withPool: true });
 * const teacher = await prepareCdlBackbone({ role: 'teacher', preset, pool: data.pool, test: data.test });
 * // teacher.backbone → runContinualDistillation; teacher.vit.dispose() when done
 * ```
 */
export async function prepareCdlBackbone(options: PrepareCdlBackboneOptions): Promise<PreparedCdlBackbone> {
  const { role, preset, pool, test } = options;
  const log = options.log ?? (() => {});
  const shape = preset[role];
  const cached = await loadOrTrainCached({
    cacheKey: backboneCacheKey(role, preset),
    ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
    ...(options.weights ? { weights: options.weights } : {}),
    build: () => vitOf(shape, 0, INIT_SEED[role]),
    buildForTraining: () => vitOf(shape, pool?.numClasses ?? 0, INIT_SEED[role]),
    loadOptions: { exclude: isHead },
    label: `${preset.data.dataset} ${role} D=${shape.dim}`,
    log,
    // processes sharing the cache (grid workers on one machine or one shared folder) pretrain a backbone once
    lock: modelCacheLock(log, role),
    metadata: { role, dataset: preset.data.dataset, recipe: JSON.stringify(preset.pretraining) },
    checkpoint: {
      store: (at) => partialCheckpointStore({ ...at, log }),
      ...(options.checkpoint?.everySteps !== undefined ? { everySteps: options.checkpoint.everySteps } : {}),
      ...(options.checkpoint?.everySeconds !== undefined ? { everySeconds: options.checkpoint.everySeconds } : {}),
      ...(options.checkpoint?.afterSave ? { onSaved: options.checkpoint.afterSave } : {}),
    },
    async train(full, callbacks) {
      if (!preset.pretraining || !pool || !test) {
        throw new ConfigError(
          `${role}: no weights given (a timm ViT safetensors file; promptkd kdp: --${role}-weights) and preset '${preset.name}' has no in-app pretraining recipe.`,
          { field: 'pretraining' },
        );
      }
      const { epochs, batchSize, lr, weightDecay } = preset.pretraining;
      const transform: Transform | undefined = pool.height === shape.imageSize ? undefined : resizeTransform([shape.imageSize, shape.imageSize]);
      log(`${role}: pretraining D=${shape.dim} depth ${shape.depth} on ${pool.count} held-out images for ${epochs} epoch(s) (Adam ${lr}, cosine)`);
      const stepsPerEpoch = Math.ceil(pool.count / batchSize);
      const progress = createProgress({ total: stepsPerEpoch * epochs, label: `pretrain ${role} D=${shape.dim}`, silent: options.quiet });
      try {
        await trainClassifier(
          full,
          (epoch) => new BatchLoader(pool, { batchSize, shuffle: true, seed: 1000 * INIT_SEED[role] + epoch, ...(transform ? { transform } : {}) }),
          {
            optimizer: 'adam', lr, weightDecay, epochs, cosine: true, stepsPerEpoch,
            // absolute step: a resumed pretraining's bar starts where it left off
            callbacks: combineCallbacks(callbacks, { onStepEnd: ({ step, loss }) => progress.update(step, { loss: loss.toFixed(3) }) }),
          },
        );
      } finally {
        progress.stop();
      }
      const { accuracy } = await evaluate(full, evalBatches(test, { batchSize: 256, ...(transform ? { transform } : {}) }));
      log(`${role}: pretrained, test accuracy ${(100 * accuracy).toFixed(2)}% (all classes)`);
      return { testAccuracy: accuracy, poolImages: pool.count, testImages: test.count };
    },
  });
  const info = cached.info as { testAccuracy?: number; seconds?: number };
  return {
    vit: cached.model,
    backbone: fromVisionTransformer(cached.model),
    weights: cached.file,
    ...(cached.source !== 'weights' && info.testAccuracy !== undefined ? { pretrainTestAccuracy: info.testAccuracy } : {}),
    ...(cached.source !== 'weights' && info.seconds !== undefined ? { pretrainSeconds: info.seconds } : {}),
  };
}

/** Options of {@link prepareCdlBackbones}. */
export interface PrepareCdlBackbonesOptions {
  /** Folder with the dataset's files (for the pretraining pool). */
  readonly dataRoot?: string;
  readonly teacherWeights?: string;
  readonly studentWeights?: string;
  readonly cacheDir?: string;
  readonly quiet?: boolean;
  readonly log?: (line: string) => void;
}

/**
 * Both backbones of a preset ({@link prepareCdlBackbone}), loading the dataset's pretraining pool only when a
 * backbone has no weights file. Call it once before running a grid's cells in parallel, so they all find the
 * backbones cached; the caller disposes both `vit`s.
 */
export async function prepareCdlBackbones(
  preset: KdpRunPreset,
  options: PrepareCdlBackbonesOptions = {},
): Promise<{ teacher: PreparedCdlBackbone; student: PreparedCdlBackbone }> {
  const data = await loadCdlData(preset, { ...(options.dataRoot ? { root: options.dataRoot } : {}), withPool: !options.teacherWeights || !options.studentWeights });
  disposeTensorTasks(data.tasks);
  const common = {
    preset,
    ...(data.pool ? { pool: data.pool } : {}),
    test: data.test,
    ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
    ...(options.quiet ? { quiet: true } : {}),
    ...(options.log ? { log: options.log } : {}),
  };
  const teacher = await prepareCdlBackbone({ ...common, role: 'teacher', ...(options.teacherWeights ? { weights: options.teacherWeights } : {}) });
  try {
    const student = await prepareCdlBackbone({ ...common, role: 'student', ...(options.studentWeights ? { weights: options.studentWeights } : {}) });
    return { teacher, student };
  } catch (err) {
    teacher.vit.dispose();
    throw err;
  }
}
