import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { checkpointCallbacks, type CheckpointStore, type TrainCallbacks } from '@promptkd/core';
import type { TorchNamedModel } from './classifier-base.js';
import { loadModelWeights, saveModelWeights } from './model-weights-files.js';
import type { LoadStateDictOptions } from './state-dict.js';

/**
 * The model cache: `$PROMPTKD_MODELS`, else `models/` beside `$PROMPTKD_DATA`, else
 * `$XDG_CACHE_HOME/promptkd/models` (default `~/.cache/promptkd/models`).
 */
export function modelCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PROMPTKD_MODELS) return env.PROMPTKD_MODELS;
  if (env.PROMPTKD_DATA) return join(resolve(env.PROMPTKD_DATA), '..', 'models');
  return join(env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache'), 'promptkd', 'models');
}

/**
 * A cache key: `<name>-<16 hex digits of sha256(JSON of recipe)>`. Put everything the weights depend on into
 * `recipe` (architecture, training recipe, data limits, seed); the same recipe finds the same file.
 */
export function cacheKeyOf(name: string, recipe: unknown): string {
  return `${name}-${createHash('sha256').update(JSON.stringify(recipe)).digest('hex').slice(0, 16)}`;
}

/** Partial checkpoints of a cached training (`<cache file>.partial/`). */
export interface CachedTrainingCheckpoint {
  /** The store for `dir` (e.g. experiments' `partialCheckpointStore`); `cacheKey` ties its states to the file. */
  readonly store: (at: { readonly dir: string; readonly cacheKey: string }) => CheckpointStore;
  /** Also save mid-epoch every this many steps and/or seconds (default: every 120 s), besides every epoch end. */
  readonly everySteps?: number;
  readonly everySeconds?: number;
  /** After each partial checkpoint is on disk (tests throw here to simulate a kill). */
  readonly onSaved?: (at: { readonly epoch: number; readonly step: number }) => void | Promise<void>;
}

/** Options of {@link loadOrTrainCached}. */
type Disposable = TorchNamedModel & { dispose(): void };

export interface LoadOrTrainCachedOptions<M extends Disposable, T extends Disposable = M> {
  /** File stem in the cache (see {@link cacheKeyOf}). */
  readonly cacheKey: string;
  /** Default {@link modelCacheDir}. */
  readonly cacheDir?: string;
  /** Builds the model to return: trained when the cache has no file (unless `buildForTraining`), else loaded. */
  readonly build: () => M;
  /**
   * Builds a different model to train and cache, e.g. a backbone with a pretraining head when `build` is the
   * headless backbone; its file is then loaded into `build()` with `loadOptions`.
   */
  readonly buildForTraining?: () => T;
  /**
   * Trains the model. Pass `callbacks` to the training loop (`trainClassifier`'s `callbacks`): they restore the
   * newest partial checkpoint and write new ones. May return facts to keep beside the weights (`<key>.json`,
   * e.g. a test accuracy); the training's wall time over all resumed processes is added as `seconds`.
   */
  readonly train: (model: T, callbacks: TrainCallbacks) => Promise<Readonly<Record<string, unknown>> | void>;
  /** Partial checkpoints; without it a killed training starts over. */
  readonly checkpoint?: CachedTrainingCheckpoint;
  /** A weights file (safetensors, PyTorch names) to load instead of the cache; nothing is trained or cached. */
  readonly weights?: string;
  /** How files are loaded into the built model (e.g. `{ exclude }` for a head). */
  readonly loadOptions?: LoadStateDictOptions;
  /** safetensors metadata of the cached file. */
  readonly metadata?: Readonly<Record<string, string>>;
  /**
   * Runs the training under a lock on the cache file (e.g. experiments' `withFileLock`), so processes sharing the
   * cache train a model once; a process that waited loads what the other one cached.
   */
  readonly lock?: (file: string, fn: () => Promise<void>) => Promise<void>;
  /** Names the model in log lines (`resuming pretraining of <label> at epoch 1, step 4`). */
  readonly label?: string;
  readonly log?: (line: string) => void;
}

/** What {@link loadOrTrainCached} gives back. */
export interface CachedModel<M> {
  /** The built model with the weights (owned by the caller). */
  readonly model: M;
  /** The file the weights are in: `options.weights` or the cache file. */
  readonly file: string;
  readonly source: 'weights' | 'cache' | 'trained';
  /** The facts `train` returned (from `<key>.json` when the file was cached earlier), with `seconds`. */
  readonly info: Readonly<Record<string, unknown>>;
}

/** Adds the training's elapsed seconds to every saved state, so the time spans every resumed process. */
function timedStore(store: CheckpointStore, elapsed: () => number): CheckpointStore & { before: number } {
  const timed = {
    before: 0,
    async load() {
      const saved = await store.load();
      if (!saved) return undefined;
      const { elapsedSeconds, ...state } = (saved.state ?? {}) as { elapsedSeconds?: number };
      timed.before = elapsedSeconds ?? 0;
      return { ...saved, state };
    },
    save: (s: Parameters<CheckpointStore['save']>[0]) => store.save({ ...s, state: { ...(s.state as object), elapsedSeconds: timed.before + elapsed() } }),
  };
  return timed;
}

/**
 * Loads a model's weights from `weights`, else from the model cache (`<cacheDir>/<cacheKey>.safetensors`), else
 * trains it (resuming from `<file>.partial/` after a kill, to bit-identical weights when the training loop is
 * deterministic) and caches it atomically. What the KiOP hosts and sources and the KDP backbones share.
 */
export async function loadOrTrainCached<M extends Disposable, T extends Disposable = M>(options: LoadOrTrainCachedOptions<M, T>): Promise<CachedModel<M>> {
  const log = options.log ?? (() => {});
  const label = options.label ?? options.cacheKey;
  const loaded = async (file: string): Promise<M> => {
    const model = options.build();
    try {
      await loadModelWeights(model, file, options.loadOptions);
      return model;
    } catch (err) {
      model.dispose();
      throw err;
    }
  };
  if (options.weights) return { model: await loaded(options.weights), file: options.weights, source: 'weights', info: {} };
  const dir = options.cacheDir ?? modelCacheDir();
  const file = join(dir, `${options.cacheKey}.safetensors`);
  const sidecar = join(dir, `${options.cacheKey}.json`);
  const readInfo = (): Record<string, unknown> => (existsSync(sidecar) ? (JSON.parse(readFileSync(sidecar, 'utf8')) as Record<string, unknown>) : {});
  if (existsSync(file)) {
    const model = await loaded(file);
    log(`loaded cached ${label} from ${file}`);
    return { model, file, source: 'cache', info: readInfo() };
  }
  let result: CachedModel<M> | undefined;
  const trainAndCache = async (): Promise<void> => {
    if (existsSync(file)) {
      result = { model: await loaded(file), file, source: 'cache', info: readInfo() };
      log(`loaded cached ${label} from ${file} (trained by another process)`);
      return;
    }
    result = await trainInto(file, sidecar);
  };
  if (options.lock) await options.lock(file, trainAndCache);
  else await trainAndCache();
  return result as CachedModel<M>;

  async function trainInto(file: string, sidecar: string): Promise<CachedModel<M>> {
    const partial = `${file}.partial`;
    const t0 = performance.now();
    const elapsed = () => (performance.now() - t0) / 1000;
    const ck = options.checkpoint;
    const store = ck ? timedStore(ck.store({ dir: partial, cacheKey: basename(file) }), elapsed) : undefined;
    const callbacks: TrainCallbacks = store
      ? checkpointCallbacks(store, {
          everySteps: ck?.everySteps,
          everySeconds: ck?.everySeconds ?? (ck?.everySteps === undefined ? 120 : undefined),
          onRestored: (s) => log(`resuming pretraining of ${label} at epoch ${s.epoch}, step ${s.step}`),
          ...(ck?.onSaved ? { onSaved: ck.onSaved } : {}),
        })
      : {};
    const trainee = options.buildForTraining ? options.buildForTraining() : (options.build() as unknown as T);
    let info: Readonly<Record<string, unknown>> | undefined;
    try {
      info = (await options.train(trainee, callbacks)) ?? undefined;
      const seconds = (store?.before ?? 0) + elapsed();
      await mkdir(dirname(file), { recursive: true });
      await saveModelWeights(trainee, file, options.metadata);
      if (info) {
        info = { ...info, seconds };
        await writeFile(sidecar, `${JSON.stringify(info, null, 2)}\n`);
      }
      await rm(partial, { recursive: true, force: true });
      log(`cached ${label} at ${file}`);
    } catch (err) {
      trainee.dispose();
      throw err;
    }
    if (!options.buildForTraining) return { model: trainee as unknown as M, file, source: 'trained', info: info ?? {} };
    trainee.dispose();
    return { model: await loaded(file), file, source: 'trained', info: info ?? {} };
  }
}
