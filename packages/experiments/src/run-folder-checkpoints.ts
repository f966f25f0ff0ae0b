import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import {
  PromptKdError,
  checkpointCallbacks,
  type CheckpointCallbackOptions,
  type CheckpointStore,
  type EpochEnd,
  type SavedTraining,
  type StepEnd,
  type TrainCallbacks,
} from '@promptkd/core';
import { loadLatestCheckpoint, saveCheckpoint, type LoadedCheckpoint } from './checkpoint.js';
import type { RunFolder } from './run-folder.js';

/** A loaded checkpoint as core's {@link SavedTraining}; its tensors now belong to the caller. */
function asSaved(ck: LoadedCheckpoint, state: unknown): SavedTraining {
  return { tensors: ck.tensors, state, step: ck.step, epoch: ck.epoch ?? 0 };
}

/** The run folder's `checkpoints/` as a {@link CheckpointStore} (atomic files, the newest good one is loaded). */
export function runFolderStore(folder: RunFolder): CheckpointStore {
  return {
    async load() {
      const ck = await folder.loadLatestCheckpoint();
      return ck ? asSaved(ck, ck.state) : undefined;
    },
    async save(s) {
      await folder.saveCheckpoint({ step: s.step, epoch: s.epoch, tensors: s.tensors, state: s.state });
    },
  };
}

/**
 * The run-folder checkpoint callback every training loop takes (core's `TrainCallbacks`): at `onTrainBegin` it
 * restores the newest good checkpoint of `folder/checkpoints` into the loop, drops the `metrics.jsonl` lines of
 * epochs that checkpoint does not cover and logs `{event: 'resumed', fromEpoch}`; after every epoch it appends the
 * epoch's metrics (`{epoch, ...metrics}`) and then saves the loop's state. A run killed anywhere resumes with the
 * same command at its last finished epoch.
 */
export function runFolderCheckpoints(folder: RunFolder, options: CheckpointCallbackOptions = {}): TrainCallbacks<EpochEnd, StepEnd> {
  let restored: SavedTraining | undefined;
  const checkpoints = checkpointCallbacks(runFolderStore(folder), {
    ...options,
    onRestored: async (saved) => {
      restored = saved;
      await options.onRestored?.(saved);
    },
  });
  return {
    async onTrainBegin(info) {
      restored = undefined;
      await checkpoints.onTrainBegin?.(info);
      // Lines of epochs the restored checkpoint does not cover were written by a run killed before saving them.
      const from = restored as SavedTraining | undefined; // set by onRestored above
      const fromEpoch = from?.epoch ?? 0;
      folder.rewindMetrics((r) => typeof r.epoch === 'number' && r.epoch < fromEpoch && r.event === undefined);
      if (from) folder.appendMetrics({ event: 'resumed', fromEpoch });
    },
    onStepEnd: (info) => checkpoints.onStepEnd?.(info),
    async onEpochEnd(state) {
      folder.appendMetrics({ epoch: state.epoch, ...state.metrics });
      await checkpoints.onEpochEnd?.(state);
    },
  };
}

/** Where a resumable pretraining keeps its partial checkpoints, and what they belong to. */
export interface PartialCheckpointOptions {
  /** Directory of the partial checkpoints (e.g. `<cache file>.partial`). */
  readonly dir: string;
  /** Identifies the run (e.g. the cache file's name); a checkpoint of another key is discarded. */
  readonly cacheKey: string;
  /** `version` the saved JSON must carry (default 1). */
  readonly version?: number;
  readonly log?: (line: string) => void;
}

/**
 * Partial checkpoints of a run that is not a run folder (a pretraining whose result goes to a model cache) as a
 * {@link CheckpointStore}: atomic checkpoints in `dir`, tagged with `cacheKey`. A checkpoint that is corrupt,
 * belongs to another key or has another state `version` is reported through `log` and the directory is removed
 * (the run starts over).
 */
export function partialCheckpointStore(at: PartialCheckpointOptions): CheckpointStore {
  const version = at.version ?? 1;
  const log = at.log ?? (() => {});
  return {
    async load() {
      if (!existsSync(at.dir)) return undefined;
      let ck: LoadedCheckpoint<{ cacheKey?: string; train?: { version?: number } } | null> | undefined;
      try {
        ck = await loadLatestCheckpoint<{ cacheKey?: string; train?: { version?: number } } | null>(at.dir, { warn: log });
        if (!ck) return undefined;
        const { cacheKey, train } = ck.state ?? {};
        if (cacheKey !== at.cacheKey || train?.version !== version) {
          throw new PromptKdError('E_CHECKPOINT', `it belongs to '${String(cacheKey)}' (state version ${String(train?.version)}), not '${at.cacheKey}' (version ${version})`);
        }
        const saved = asSaved(ck, train);
        ck = undefined;
        return saved;
      } catch (err) {
        if (!PromptKdError.isInstance(err)) throw err;
        log(`cannot resume from the partial checkpoint in ${at.dir} (${err.message}); starting over`);
        await rm(at.dir, { recursive: true, force: true });
        return undefined;
      } finally {
        ck?.dispose();
      }
    },
    async save(s) {
      await saveCheckpoint(at.dir, { step: s.step, epoch: s.epoch, tensors: s.tensors, state: { cacheKey: at.cacheKey, train: s.state } });
    },
  };
}
