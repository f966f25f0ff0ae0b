import type * as tf from '@tensorflow/tfjs';
import { CheckpointError } from './errors.js';

/**
 * The contract every promptkd training loop shares (`trainKiop`, continual's `trainTask`, the
 * continual-distillation stream, `trainClassifier`), after tfjs's `BaseCallback` and Keras' `BackupAndRestore`.
 * The loops stay separate where the algorithms differ (synthesis rounds, task streams); they agree on when they
 * call back and on how their state is saved and restored.
 */

/** A loop's state at an epoch boundary: tensors plus JSON. */
export interface TrainingState<S = unknown> {
  /**
   * Named tensors (trained variables, optimizer slots, banks, ...). From `exportState` they are copies owned by
   * the caller, who disposes them; `importState` only reads them.
   */
  readonly tensors: Readonly<Record<string, tf.Tensor>>;
  /** JSON-serialisable rest: counters, RNG states, history of finished epochs. */
  readonly state: S;
}

/**
 * Something whose state can be saved and restored exactly: a training loop (at an epoch boundary), a
 * synthesizer, an optimizer. `importState(await exportState())` on an object built the same way continues as
 * the original would have.
 */
export interface Resumable<S = unknown> {
  exportState(): Promise<TrainingState<S>>;
  importState(saved: TrainingState<S>): Promise<void>;
}

/** What a loop tells its callbacks before training (tfjs `setParams`). */
export interface TrainBegin {
  /** Epochs of the whole run (E; for a task stream, the tasks). */
  readonly epochs: number;
  /** Optimisation steps of the whole run (for progress bars). */
  readonly steps: number;
  /**
   * The loop's state. A checkpoint callback restores a saved state into it here (Keras `BackupAndRestore`);
   * the loop reads its position (first epoch, history) only after every `onTrainBegin` has returned.
   */
  readonly training: Resumable;
}

/** After every optimisation step. */
export interface StepEnd {
  /** Epoch in progress (0-based). */
  readonly epoch: number;
  /** Global steps done, counting all epochs (1 after the first step). */
  readonly step: number;
  /** Total loss of the step. */
  readonly loss: number;
  /** Named loss terms of the step, when the loop has several. */
  readonly terms?: Readonly<Record<string, number>>;
  readonly lr?: number;
}

/** After every epoch (the state a checkpoint is written from). */
export interface EpochEnd {
  /** The epoch just finished (0-based). */
  readonly epoch: number;
  /** Global steps done. */
  readonly step: number;
  /** Flat numbers of the epoch for logs (`metrics.jsonl`): accuracies, mean losses, learning rate, seconds. */
  readonly metrics: Readonly<Record<string, number>>;
  /** The loop's state after this epoch; `exportState()` gives what resumes at the next epoch. */
  readonly training: Resumable;
}

/** After the last epoch. */
export interface TrainEnd {
  readonly epochs: number;
  readonly step: number;
}

/**
 * Callbacks of a training loop. Every method is optional and may be async (the loop awaits it). A loop may
 * pass richer records (its own epoch type `E` and step type `S`).
 */
export interface TrainCallbacks<E extends EpochEnd = EpochEnd, S extends StepEnd = StepEnd> {
  onTrainBegin?(info: TrainBegin): void | Promise<void>;
  onStepEnd?(info: S): void | Promise<void>;
  onEpochEnd?(state: E): void | Promise<void>;
  onTrainEnd?(info: TrainEnd): void | Promise<void>;
}

/** Runs several callback sets in order (e.g. checkpoints first, then progress). */
export function combineCallbacks<E extends EpochEnd = EpochEnd, S extends StepEnd = StepEnd>(
  ...list: readonly (TrainCallbacks<E, S> | undefined)[]
): TrainCallbacks<E, S> {
  const all = list.filter((c): c is TrainCallbacks<E, S> => c !== undefined);
  return {
    async onTrainBegin(info) {
      for (const c of all) await c.onTrainBegin?.(info);
    },
    async onStepEnd(info) {
      for (const c of all) await c.onStepEnd?.(info);
    },
    async onEpochEnd(state) {
      for (const c of all) await c.onEpochEnd?.(state);
    },
    async onTrainEnd(info) {
      for (const c of all) await c.onTrainEnd?.(info);
    },
  };
}

/**
 * One {@link Resumable} made of named parts: part `p`'s tensors are stored as `p/<name>` and its JSON under
 * `state[p]`. Parts are exported and imported in the given order. A part missing from a saved state is an error
 * unless it is listed in `optional` (e.g. state that only some configurations keep).
 */
export function resumableParts(parts: Readonly<Record<string, Resumable>>, options: { optional?: readonly string[] } = {}): Resumable<Record<string, unknown>> {
  return {
    async exportState() {
      const tensors: Record<string, tf.Tensor> = {};
      const state: Record<string, unknown> = {};
      for (const [p, part] of Object.entries(parts)) {
        const saved = await part.exportState();
        for (const [k, t] of Object.entries(saved.tensors)) tensors[`${p}/${k}`] = t;
        state[p] = saved.state;
      }
      return { tensors, state };
    },
    async importState(saved) {
      const all = saved.state ?? {};
      for (const [p, part] of Object.entries(parts)) {
        if (!(p in all)) {
          if (options.optional?.includes(p)) continue;
          throw new CheckpointError(`The saved state has no part '${p}' (it has: ${Object.keys(all).join(', ') || 'none'}).`, { part: p });
        }
        const prefix = `${p}/`;
        const tensors = Object.fromEntries(Object.entries(saved.tensors).filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]));
        await part.importState({ tensors, state: all[p] });
      }
    },
  };
}

/**
 * Named variables as a {@link Resumable}: exports copies, imports by name and checks shapes. Every variable must
 * be in the saved state; saved tensors for other names are ignored.
 */
export function resumableVariables(variables: () => ReadonlyMap<string, tf.Variable> | Readonly<Record<string, tf.Variable>>): Resumable<null> {
  const entries = (): [string, tf.Variable][] => {
    const v = variables();
    return v instanceof Map ? [...v.entries()] : Object.entries(v);
  };
  return {
    async exportState() {
      return { tensors: Object.fromEntries(entries().map(([n, v]) => [n, v.clone()])), state: null };
    },
    async importState(saved) {
      for (const [name, v] of entries()) {
        const t = saved.tensors[name];
        if (!t) throw new CheckpointError(`The saved state lacks variable '${name}'.`, { variable: name });
        if (t.shape.join(',') !== v.shape.join(',')) {
          throw new CheckpointError(`Saved '${name}' has shape [${t.shape.join(', ')}], the variable has [${v.shape.join(', ')}].`, { variable: name });
        }
        v.assign(t);
      }
    },
  };
}
