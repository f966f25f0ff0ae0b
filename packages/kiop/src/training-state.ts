import type * as tf from '@tensorflow/tfjs';
import {
  ConfigError,
  resumableOptimizer,
  resumableParts,
  resumableVariables,
  type Resumable,
  type Synthesizer,
  type TrainingState,
} from '@promptkd/core';
import type { ResumableSynthesizer } from './ports.js';
import type { VariantSession } from './session.js';
import type { KiopEpoch } from './train-kiop.js';

/** JSON part of a KiOP run's state: the finished epochs, the optimizer and each synthesizer's counters. */
export interface KiopTrainingJson {
  readonly epochs: readonly KiopEpoch[];
  readonly parts: Readonly<Record<string, unknown>>;
}

/** The run's state as {@link trainKiop} hands it out: a {@link Resumable} plus the finished epochs. */
export interface KiopTraining extends Resumable<KiopTrainingJson> {
  /** Epochs finished so far (restored by `importState`). */
  readonly history: readonly KiopEpoch[];
}

/** A synthesizer's state as a Resumable part (stateless synthesizers save nothing). */
function synthesizerPart(s: Synthesizer & ResumableSynthesizer): Resumable {
  return {
    exportState: async () => (s.exportState ? s.exportState() : { tensors: {}, state: null }),
    importState: async (saved) => {
      await s.importState?.({ tensors: { ...saved.tensors }, state: saved.state });
    },
  };
}

/**
 * Everything a KiOP run needs to continue exactly at an epoch boundary (kiop-spec §4.3): the trained tensors
 * (`state/<name>`: the prompt, or Vanilla-KD's student with its BN statistics), the momentum buffers
 * (`optimizer/<name>/momentum`, by the same names), every synthesizer's banks, contrastive head and head optimizer
 * (`synth/<bank>/...`), the session's extra state (the iterative label mapping) and the finished epochs. The random streams need no saving: the loop reseeds them from
 * (seed, epoch) at every epoch start.
 */
export function kiopTrainingState(session: VariantSession, optimizer: tf.Optimizer, history: KiopEpoch[]): KiopTraining {
  const names = (): [string, tf.Variable][] => {
    const byVariable = new Map(Object.entries(session.stateVariables()).map(([n, v]) => [v, n]));
    return session.trainableVariables().map((v, i) => [byVariable.get(v) ?? `#${i}`, v]);
  };
  const parts = resumableParts({
    state: resumableVariables(() => session.stateVariables()),
    optimizer: resumableOptimizer(optimizer, names),
    synth: resumableParts(Object.fromEntries(session.synthesizers.map(({ bank, synthesizer }) => [bank, synthesizerPart(synthesizer)]))),
    ...(session.extraState ? { session: session.extraState } : {}),
  });
  return {
    get history() {
      return history;
    },
    async exportState(): Promise<TrainingState<KiopTrainingJson>> {
      const saved = await parts.exportState();
      return { tensors: saved.tensors, state: { epochs: [...history], parts: saved.state } };
    },
    async importState(saved) {
      const { epochs, parts: state } = saved.state ?? ({} as Partial<KiopTrainingJson>);
      if (!Array.isArray(epochs) || !state) {
        throw new ConfigError('The saved KiOP state is malformed (no epochs or parts); it is not from trainKiop.', { field: 'resume' });
      }
      await parts.importState({ tensors: saved.tensors, state });
      history.splice(0, history.length, ...epochs);
    },
  };
}
