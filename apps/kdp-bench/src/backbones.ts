import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { basename, join } from 'node:path';
import { ConfigError } from '@promptkd/core';
import { fromVisionTransformer, type PromptableViT } from '@promptkd/continual';
import { BatchLoader, dataCacheDir, evalBatches, resizeTransform, type ImageDataset, type Transform } from '@promptkd/datasets/node';
import { createProgress, loadPartialTraining, savePartialTraining, withFileLock, type PartialTrainingCheckpoint } from '@promptkd/experiments';
import { VisionTransformer, evaluate, loadModelWeights, saveModelWeights, trainClassifier, type TrainClassifierState } from '@promptkd/models/node';
import type { BenchPreset } from './bench-presets.js';

type Shape = BenchPreset['teacher'];

/** A frozen backbone ready for prompting. */
export interface PreparedBackbone {
  readonly vit: VisionTransformer;
  readonly backbone: PromptableViT;
  /** Checkpoint the weights came from (timm file or the in-app pretraining cache). */
  readonly weights: string;
  /** In-app pretraining only: top-1 of the pretraining head on the (capped) test split, all classes. */
  readonly pretrainTestAccuracy?: number;
  readonly pretrainSeconds?: number;
}

/** Default model cache: `$PROMPTKD_MODELS` or `~/.cache/promptkd/models` (shared with the KiOP app). */
export function modelCacheDir(): string {
  return process.env.PROMPTKD_MODELS ?? join(dataCacheDir(), '..', 'models');
}

/** Fixed init seeds of the two backbones: every cell and seed uses the same frozen backbones. */
const INIT_SEED = { teacher: 1, student: 2 } as const;

function vitOf(shape: Shape, numClasses: number, seed: number): VisionTransformer {
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

/** Where and how often pretraining checkpoints; `cacheKey` ties the partial checkpoint to its cache file. */
interface PartialCheckpoint extends PretrainCheckpointOptions, PartialTrainingCheckpoint {}


/** The cache file of an in-app pretrained backbone (key = hash of shape, recipe, dataset and pool). */
export function backboneCacheFile(role: 'teacher' | 'student', preset: BenchPreset, cacheDir = modelCacheDir()): string {
  const shape = preset[role];
  const key = createHash('sha256')
    .update(JSON.stringify({ v: 1, role, seed: INIT_SEED[role], dataset: preset.data.dataset, shape, pretraining: preset.pretraining ?? null }))
    .digest('hex')
    .slice(0, 16);
  return join(cacheDir, `kdp-${preset.data.dataset}-${role}-d${shape.dim}x${shape.depth}-${key}.safetensors`);
}

/**
 * The teacher or student backbone, frozen and headless: from `weights` (a timm `vit_*` safetensors state dict;
 * the classifier head is ignored) when given, else from the cache, else pretrained in-app on the held-out pool
 * (a CPU stand-in for ImageNet pretraining, kdp-spec §8.2) and cached. A pretraining killed midway resumes from
 * `<cache file>.partial/` (see {@link PretrainCheckpointOptions}) to the same weights.
 */
export async function prepareBackbone(options: {
  role: 'teacher' | 'student';
  preset: BenchPreset;
  pool?: ImageDataset;
  test?: ImageDataset;
  weights?: string;
  cacheDir?: string;
  quiet?: boolean;
  log?: (line: string) => void;
  /** Partial-checkpoint cadence of an in-app pretraining (default: every 120 s and every epoch). */
  checkpoint?: PretrainCheckpointOptions;
}): Promise<PreparedBackbone> {
  const { role, preset } = options;
  const log = options.log ?? (() => {});
  const vit = vitOf(preset[role], 0, INIT_SEED[role]);
  try {
    if (options.weights) {
      await loadModelWeights(vit, options.weights, { exclude: isHead });
      log(`${role}: loaded ${options.weights}`);
      return { vit, backbone: fromVisionTransformer(vit), weights: options.weights };
    }
    const file = backboneCacheFile(role, preset, options.cacheDir);
    const sidecar = file.replace(/\.safetensors$/, '.json');
    if (!existsSync(file)) {
      const { pool, test } = options;
      if (!preset.pretraining || !pool || !test) {
        throw new ConfigError(
          `${role}: no weights given (--${role}-weights <timm safetensors>) and preset '${preset.name}' has no in-app pretraining recipe.`,
          { field: 'pretraining' },
        );
      }
      // processes sharing the cache (grid workers on one machine or one shared folder) pretrain a backbone once
      await withFileLock(file, async () => {
        if (!existsSync(file)) await pretrainBackbone({ ...options, pool, test, file, sidecar, log });
      }, { onWait: () => log(`${role}: another process is pretraining ${basename(file)}; waiting for it`) });
    }
    await loadModelWeights(vit, file, { exclude: isHead });
    const meta = existsSync(sidecar) ? (JSON.parse(readFileSync(sidecar, 'utf8')) as { testAccuracy?: number; seconds?: number }) : {};
    return {
      vit,
      backbone: fromVisionTransformer(vit),
      weights: file,
      ...(meta.testAccuracy !== undefined ? { pretrainTestAccuracy: meta.testAccuracy } : {}),
      ...(meta.seconds !== undefined ? { pretrainSeconds: meta.seconds } : {}),
    };
  } catch (err) {
    vit.dispose();
    throw err;
  }
}

/**
 * Pretrains the backbone with a head on the held-out pool (Adam, cosine), checkpointing into `<file>.partial/` and
 * resuming from it, then caches the weights in `file` and the test accuracy in `sidecar`.
 */
async function pretrainBackbone(o: {
  role: 'teacher' | 'student';
  preset: BenchPreset;
  pool: ImageDataset;
  test: ImageDataset;
  file: string;
  sidecar: string;
  cacheDir?: string;
  quiet?: boolean;
  log: (line: string) => void;
  checkpoint?: PretrainCheckpointOptions;
}): Promise<void> {
  const { role, preset, pool, test, file, log } = o;
  const shape = preset[role];
  const { epochs, batchSize, lr, weightDecay } = preset.pretraining as NonNullable<BenchPreset['pretraining']>;
  const full = vitOf(shape, pool.numClasses, INIT_SEED[role]);
  try {
    const transform: Transform | undefined = pool.height === shape.imageSize ? undefined : resizeTransform([shape.imageSize, shape.imageSize]);
    const at: PartialCheckpoint = { dir: `${file}.partial`, cacheKey: basename(file), ...o.checkpoint };
    // The partial checkpoints also carry the pretraining's seconds so far, so the sidecar's time spans every process.
    const resume = await loadPartialTraining<TrainClassifierState & { elapsedSeconds?: number }>(at, full.namedVariables(), log);
    const before = resume?.elapsedSeconds ?? 0;
    if (resume) log(`resuming pretraining of ${preset.data.dataset} ${role} D=${shape.dim} at epoch ${resume.epoch}, step ${resume.step}`);
    else log(`${role}: pretraining D=${shape.dim} depth ${shape.depth} on ${pool.count} held-out images for ${epochs} epoch(s) (Adam ${lr}, cosine)`);
    let done = resume?.step ?? 0;
    const steps = Math.ceil(pool.count / batchSize) * epochs;
    const progress = createProgress({ total: steps, label: `pretrain ${role} D=${shape.dim}`, silent: o.quiet, start: done });
    const t0 = performance.now();
    try {
      await trainClassifier(
        full,
        (epoch) => new BatchLoader(pool, { batchSize, shuffle: true, seed: 1000 * INIT_SEED[role] + epoch, ...(transform ? { transform } : {}) }),
        {
          optimizer: 'adam',
          lr,
          weightDecay,
          epochs,
          cosine: true,
          ...(resume ? { resume } : {}),
          checkpoint: {
            everySeconds: at.everySeconds ?? (at.everySteps === undefined ? 120 : undefined),
            everySteps: at.everySteps,
            save: (state) => {
              const timed: TrainClassifierState & { elapsedSeconds: number } = { ...state, elapsedSeconds: before + (performance.now() - t0) / 1000 };
              return savePartialTraining(at, full.namedVariables(), timed);
            },
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
    const seconds = before + (performance.now() - t0) / 1000;
    const { accuracy } = await evaluate(full, evalBatches(test, { batchSize: 256, ...(transform ? { transform } : {}) }));
    await mkdir(o.cacheDir ?? modelCacheDir(), { recursive: true });
    await saveModelWeights(full, file, { role, dataset: preset.data.dataset, recipe: JSON.stringify(preset.pretraining) });
    writeFileSync(o.sidecar, `${JSON.stringify({ testAccuracy: accuracy, seconds, poolImages: pool.count, testImages: test.count }, null, 2)}\n`);
    await rm(at.dir, { recursive: true, force: true });
    log(`${role}: pretrained in ${seconds.toFixed(0)} s, test accuracy ${(100 * accuracy).toFixed(2)}% (all classes), cached at ${file}`);
  } finally {
    full.dispose();
  }
}
