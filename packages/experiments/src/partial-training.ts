import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import * as tf from '@tensorflow/tfjs';
import { PromptKdError } from '@promptkd/core';
import { assignVariables, loadLatestCheckpoint, saveCheckpoint, type LoadedCheckpoint } from './checkpoint.js';

/** Where a resumable training loop keeps its partial checkpoints, and what they belong to. */
export interface PartialTrainingCheckpoint {
  /** Directory of the partial checkpoints (e.g. `<cache file>.partial`). */
  readonly dir: string;
  /** Identifies the run (e.g. the cache file's name); a checkpoint of another key is discarded. */
  readonly cacheKey: string;
  /** Runs after each checkpoint is on disk (tests throw here to simulate a kill). */
  readonly afterSave?: (at: { readonly epoch: number; readonly step: number }) => void;
}

/** A trainer's resumable state: counters and JSON-able fields, plus optimizer slots as flat arrays. */
export interface TrainerState {
  readonly version: number;
  readonly epoch: number;
  readonly step: number;
  readonly slots: Readonly<Record<string, Float32Array>>;
}

/** JSON part of a partial checkpoint; the tensors are `model/<name>` and `slot/<slot key>`. */
interface PartialState {
  readonly cacheKey: string;
  readonly train: Record<string, unknown> & { version?: number };
}

const MODEL = 'model/';
const SLOT = 'slot/';

/** Writes the model's variables and the trainer state as one atomic checkpoint in `at.dir`. */
export async function savePartialTraining(at: PartialTrainingCheckpoint, variables: ReadonlyMap<string, tf.Variable>, state: TrainerState): Promise<void> {
  const { slots, ...train } = state;
  const slotTensors = Object.fromEntries(Object.entries(slots).map(([k, a]) => [`${SLOT}${k}`, tf.tensor1d(a, 'float32')]));
  const weights = Object.fromEntries([...variables].map(([n, v]) => [`${MODEL}${n}`, v]));
  try {
    const partial: PartialState = { cacheKey: at.cacheKey, train };
    await saveCheckpoint(at.dir, { step: state.step, epoch: state.epoch, tensors: { ...weights, ...slotTensors }, state: partial });
  } finally {
    tf.dispose(Object.values(slotTensors));
  }
  at.afterSave?.({ epoch: state.epoch, step: state.step });
}

/**
 * Restores the variables from the newest good partial checkpoint in `at.dir` and returns the trainer state to
 * resume from; `undefined` (after deleting the directory) when there is none, it is corrupt, it belongs to another
 * key or its state has another `version`.
 */
export async function loadPartialTraining<S extends TrainerState>(
  at: PartialTrainingCheckpoint,
  variables: ReadonlyMap<string, tf.Variable>,
  log: (line: string) => void,
  version = 1,
): Promise<S | undefined> {
  if (!existsSync(at.dir)) return undefined;
  let ck: LoadedCheckpoint<Partial<PartialState> | null> | undefined;
  try {
    ck = await loadLatestCheckpoint<Partial<PartialState> | null>(at.dir, { warn: log });
    if (!ck) return undefined;
    const { cacheKey, train } = ck.state ?? {};
    if (cacheKey !== at.cacheKey || train?.version !== version) {
      throw new PromptKdError('E_CHECKPOINT', `it belongs to '${String(cacheKey)}' (state version ${String(train?.version)}), not '${at.cacheKey}' (version ${version})`);
    }
    const weights: Record<string, tf.Tensor> = {};
    const slots: Record<string, Float32Array> = {};
    for (const [n, t] of Object.entries(ck.tensors)) {
      if (n.startsWith(MODEL)) weights[n.slice(MODEL.length)] = t;
      else if (n.startsWith(SLOT)) slots[n.slice(SLOT.length)] = (t.dataSync() as Float32Array).slice();
    }
    assignVariables(variables, weights);
    return { ...train, slots } as unknown as S;
  } catch (err) {
    if (!(err instanceof PromptKdError)) throw err;
    log(`cannot resume from the partial checkpoint in ${at.dir} (${err.message}); starting over`);
    await rm(at.dir, { recursive: true, force: true });
    return undefined;
  } finally {
    ck?.dispose();
  }
}
