import type * as tf from '@tensorflow/tfjs';
import { ConfigError } from './errors.js';
import type { EpochEnd, Resumable, StepEnd, TrainCallbacks, TrainingState } from './train-callbacks.js';

/** A saved {@link TrainingState} with the counters it was saved at. */
export interface SavedTraining<S = unknown> extends TrainingState<S> {
  readonly step: number;
  /** Epochs finished when it was saved (mid-epoch saves: the epoch in progress). */
  readonly epoch: number;
}

/**
 * Where a loop's states are kept (a run folder's `checkpoints/`, a partial-pretraining directory, memory in
 * tests). `@promptkd/experiments` implements it on atomic checkpoint files.
 */
export interface CheckpointStore {
  /** The newest good state, or undefined. The caller disposes its tensors. */
  load(): Promise<SavedTraining | undefined>;
  /** Saves a state (only reads its tensors). */
  save(state: SavedTraining): Promise<void>;
}

/** Options of {@link checkpointCallbacks}. */
export interface CheckpointCallbackOptions {
  /**
   * Also save mid-epoch every this many global steps and/or once this many seconds have passed since the last
   * save. Only for loops whose state is exact mid-epoch (`trainClassifier`); the others refuse with a ConfigError.
   */
  readonly everySteps?: number;
  readonly everySeconds?: number;
  /** After a state was restored (before training continues). */
  readonly onRestored?: (saved: SavedTraining) => void | Promise<void>;
  /** After each save. */
  readonly onSaved?: (at: { readonly step: number; readonly epoch: number }) => void | Promise<void>;
}

/**
 * The one checkpoint callback of the {@link TrainCallbacks} contract: restores the newest state of `store` into
 * the loop at `onTrainBegin` and saves the loop's state after every epoch (and, optionally, mid-epoch).
 */
export function checkpointCallbacks(store: CheckpointStore, options: CheckpointCallbackOptions = {}): TrainCallbacks<EpochEnd, StepEnd> {
  const { everySteps, everySeconds } = options;
  if ([everySteps, everySeconds].some((n) => n !== undefined && !(n > 0))) {
    throw new ConfigError('Checkpoint everySteps and everySeconds must be positive.', { field: 'checkpoint' });
  }
  let training: Resumable | undefined;
  let lastSave = performance.now();
  const save = async (from: Resumable, at: { step: number; epoch: number }): Promise<void> => {
    const state = await from.exportState();
    try {
      await store.save({ ...state, ...at });
    } finally {
      disposeAll(state.tensors);
    }
    lastSave = performance.now();
    await options.onSaved?.(at);
  };
  return {
    async onTrainBegin(info) {
      training = info.training;
      lastSave = performance.now();
      const saved = await store.load();
      if (!saved) return;
      try {
        await info.training.importState(saved);
      } finally {
        disposeAll(saved.tensors);
      }
      await options.onRestored?.(saved);
    },
    async onStepEnd({ epoch, step }) {
      if (!training || (everySteps === undefined && everySeconds === undefined)) return;
      const due = (everySteps !== undefined && step % everySteps === 0) || (everySeconds !== undefined && performance.now() - lastSave >= everySeconds * 1000);
      if (due) await save(training, { step, epoch });
    },
    async onEpochEnd(state) {
      await save(state.training, { step: state.step, epoch: state.epoch + 1 });
    },
  };
}

function disposeAll(tensors: Readonly<Record<string, tf.Tensor>>): void {
  for (const t of Object.values(tensors)) t.dispose();
}

/** A {@link CheckpointStore} in memory (tests, or keeping the best epoch): holds copies of the latest state. */
export function memoryCheckpointStore(): CheckpointStore & { readonly saves: number; clear(): void } {
  let latest: SavedTraining | undefined;
  let saves = 0;
  const clone = (s: SavedTraining): SavedTraining => ({ ...s, state: structuredClone(s.state), tensors: Object.fromEntries(Object.entries(s.tensors).map(([k, t]) => [k, t.clone()])) });
  return {
    get saves() {
      return saves;
    },
    async load() {
      return latest ? clone(latest) : undefined;
    },
    async save(state) {
      if (latest) disposeAll(latest.tensors);
      latest = clone(state);
      saves++;
    },
    clear() {
      if (latest) disposeAll(latest.tensors);
      latest = undefined;
    },
  };
}
