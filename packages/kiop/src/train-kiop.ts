import * as tf from '@tensorflow/tfjs';
import {
  ConfigError,
  assertFinite,
  combineCallbacks,
  cosineAnnealingLr,
  disposeOptimizer,
  microBatchGradients,
  momentum,
  sliceRows,
  type EpochEnd,
  type StepEnd,
  type TrainCallbacks,
} from '@promptkd/core';
import type { KiopConfig } from './config.js';
import type { PromptBnStatistics } from './prompt-bn-statistics.js';
import { kiopVariantRegistry } from './registry.js';
import { epochSeed } from './reseed.js';
import type { KiopContext, VariantSession } from './session.js';
import { kiopTrainingState, type KiopTraining } from './training-state.js';

/** What one epoch reports. */
export interface KiopEpoch {
  readonly epoch: number;
  /** Learning rate used in this epoch. */
  readonly lr: number;
  /** Mean of each loss term over the epoch's knowledge-storing steps, and their sum `loss`. */
  readonly losses: Readonly<Record<string, number>>;
  /** Synthesis report per bank (loss terms of the kept batch, bank size). */
  readonly synthesis: Readonly<Record<string, Readonly<Record<string, number>>>>;
  /** Acc.A, Acc.B (, Acc.C) after the epoch, in [0, 1]. */
  readonly metrics: Readonly<Record<string, number>>;
  /** The session's diagnostics after the epoch (e.g. `bankAgreementB`), when it reports any. */
  readonly diagnostics?: Readonly<Record<string, number>>;
  readonly seconds: number;
}

/** Final and best-epoch numbers (the reference selects "best" by Acc.B; kiop-spec §4.4, §6.9). */
export interface KiopResult {
  readonly variant: string;
  readonly epochs: readonly KiopEpoch[];
  readonly final: Readonly<Record<string, number>>;
  /** The epoch with the highest Acc.B and all its metrics. */
  readonly best: { readonly epoch: number; readonly metrics: Readonly<Record<string, number>> };
  /**
   * When the prompted host ran with BN on batch statistics (`fidelity.hostBnTrainMode`): per source, the host's BN
   * statistics over the prompted images the prompt trained on and the accuracy in eval mode with them — what a
   * server needs to run the prompt one image at a time ({@link PromptBnStatistics}). Absent otherwise.
   */
  readonly promptBnStatistics?: readonly PromptBnStatistics[];
}

/** What {@link trainKiop} reports after every epoch: the epoch's record and its numbers flattened for logs. */
export interface KiopEpochEnd extends EpochEnd {
  readonly record: KiopEpoch;
  readonly training: KiopTraining;
}

/** After every knowledge-storing step. */
export interface KiopStepEnd extends StepEnd {
  readonly terms: Readonly<Record<string, number>>;
  readonly lr: number;
}

/**
 * Callbacks of {@link trainKiop}: core's training contract (`onTrainBegin` with the epochs, the knowledge-storing
 * steps and the run's {@link KiopTraining} state; `onStepEnd`; `onEpochEnd` with the state to checkpoint;
 * `onTrainEnd`) plus KiOP's synthesis rounds.
 */
export interface KiopHooks extends TrainCallbacks<KiopEpochEnd, KiopStepEnd> {
  /** After each synthesis round. */
  onSynthesis?(info: { epoch: number; bank: string; round: number; losses: Readonly<Record<string, number>> }): void;
}

/** An epoch's numbers as one flat record (`metrics.jsonl`): lr, accuracies, diagnostics, `loss.*`, `synth<bank>.*`. */
export function flatEpochMetrics(e: KiopEpoch): Record<string, number> {
  const prefixed = (prefix: string, r: Readonly<Record<string, number>>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [prefix + k, v]));
  return {
    lr: e.lr,
    ...e.metrics,
    ...e.diagnostics,
    ...prefixed('loss.', e.losses),
    ...Object.assign({}, ...Object.entries(e.synthesis).map(([bank, v]) => prefixed(`synth${bank}.`, v))),
    seconds: e.seconds,
  };
}

/** Cosine annealing over epochs, stepped once per epoch, η_min = 0 (PyTorch CosineAnnealingLR, T_max = E): core's schedule. */
export const cosineLr = cosineAnnealingLr;

/**
 * The loop every KiOP variant shares (kiop-spec §4.3). Per epoch: the Synthesize Period (each synthesizer runs
 * `roundsPerEpoch` rounds), the session's `beforeStoring` (the iterative label mapping), the Knowledge Storing Period
 * (`kdSteps` SGD steps with momentum 0.9 and weight decay on the variant's trainable variables, cosine learning rate),
 * then evaluation of Acc.A (SMA on the host test set) and Acc.B (SMB on the source test set). Epoch 0 also evaluates
 * the untrained prompt before its first step (`untrained.*` in the epoch's diagnostics).
 */
export async function trainKiop(ctx: KiopContext, hooks: KiopHooks = {}): Promise<KiopResult> {
  const { config } = ctx;
  const session = kiopVariantRegistry.get(config.variant).create(ctx);
  const optimizer = momentum(session.baseLr, config.momentum);
  const cb = combineCallbacks<KiopEpochEnd, KiopStepEnd>(hooks);
  const epochs: KiopEpoch[] = [];
  let midEpoch = false;
  const state = kiopTrainingState(session, optimizer, epochs);
  const training: KiopTraining = {
    get history() {
      return state.history;
    },
    exportState() {
      if (midEpoch) throw new ConfigError("trainKiop's state is exact only at epoch boundaries; save it in onEpochEnd.", { field: 'checkpoint' });
      return state.exportState();
    },
    importState: (saved) => state.importState(saved),
  };
  try {
    await cb.onTrainBegin?.({ epochs: config.epochs, steps: config.epochs * config.kdSteps, training });
    for (let epoch = epochs.length; epoch < config.epochs; epoch++) {
      midEpoch = true;
      const started = performance.now();
      const lr = cosineLr(session.baseLr, epoch, config.epochs);
      optimizer.setLearningRate(lr);
      session.reseed(epochSeed(config.seed, epoch, 0));
      const synthesis: Record<string, Record<string, number>> = {};
      for (const { bank, synthesizer } of session.synthesizers) {
        for (let round = 0; round < config.synthesis.roundsPerEpoch; round++) {
          const step = await synthesizer.synthesize();
          synthesis[bank] = { ...step.losses, bankSize: step.bankSize };
          hooks.onSynthesis?.({ epoch, bank, round, losses: step.losses });
        }
      }
      const beforeStoring = session.beforeStoring?.(epoch);
      // what the untrained prompt (or student) scores, with the label mapping it starts from: the baseline the trained prompt is measured against
      const untrained = epoch === 0 ? Object.fromEntries(Object.entries(await session.evaluate()).map(([k, v]) => [`untrained.${k}`, v])) : undefined;
      const sums: Record<string, number> = {};
      for (let step = 0; step < config.kdSteps; step++) {
        const values = knowledgeStoringStep(session, optimizer, config);
        for (const [k, v] of Object.entries(values)) {
          assertFinite(v, { step: epoch * config.kdSteps + step, term: k, what: 'loss' });
          sums[k] = (sums[k] ?? 0) + v;
        }
        await cb.onStepEnd?.({ epoch, step: epoch * config.kdSteps + step + 1, loss: values.loss ?? Number.NaN, terms: values, lr });
      }
      const losses = Object.fromEntries(Object.entries(sums).map(([k, v]) => [k, v / config.kdSteps]));
      const metrics = await session.evaluate();
      const diagnostics = beforeStoring || untrained || session.diagnostics ? { ...untrained, ...beforeStoring, ...(await session.diagnostics?.(epoch)) } : undefined;
      const record: KiopEpoch = {
        epoch, lr, losses, synthesis, metrics, ...(diagnostics ? { diagnostics } : {}),
        seconds: (performance.now() - started) / 1000,
      };
      epochs.push(record);
      midEpoch = false;
      await cb.onEpochEnd?.({ epoch, step: (epoch + 1) * config.kdSteps, metrics: flatEpochMetrics(record), record, training });
    }
    await cb.onTrainEnd?.({ epochs: config.epochs, step: config.epochs * config.kdSteps });
    const promptBn = await session.promptBnStatistics?.();
    const last = epochs[epochs.length - 1];
    const best = epochs.reduce((b, e) => ((e.metrics.accB ?? -1) > (b.metrics.accB ?? -1) ? e : b), epochs[0]!);
    return {
      variant: config.variant,
      epochs,
      final: last ? last.metrics : {},
      best: { epoch: best.epoch, metrics: best.metrics },
      ...(promptBn ? { promptBnStatistics: promptBn } : {}),
    };
  } finally {
    disposeOptimizer(optimizer);
    session.dispose();
  }
}

/**
 * One knowledge-storing step: gradients of the summed loss terms w.r.t. the session's trainable variables,
 * PyTorch-style weight decay (g + λθ), momentum SGD update. Returns the term values.
 *
 * With `microBatch` below the batch, the step's batch is drawn once and its gradient accumulated over micro-batches
 * of that many rows (`microBatchGradients` of `@promptkd/core`): the activations of one micro-batch at a time, the
 * whole batch's gradient — exactly, up to float rounding, when the host runs in eval mode
 * (`fidelity.hostBnTrainMode: false`). With the host on batch statistics (the presets' default) its BN normalises
 * each micro-batch with its own statistics, so the gradient is the micro-batches' average, not the whole batch's.
 */
export function knowledgeStoringStep(
  session: VariantSession,
  optimizer: tf.Optimizer,
  config: Pick<KiopConfig, 'weightDecay'> & { readonly microBatch?: number },
): Record<string, number> {
  const vars = session.trainableVariables();
  let kept: Record<string, tf.Scalar> = {};
  let value: tf.Scalar;
  let grads: tf.NamedTensorMap;
  const micro = config.microBatch;
  const batch = micro !== undefined ? session.drawBatch?.() : undefined;
  const rows = batch ? (Object.values(batch)[0]?.shape[0] ?? 0) : 0;
  if (micro !== undefined && !batch) {
    throw new ConfigError(`This KiOP variant cannot split its knowledge-storing step into micro-batches (microBatch ${micro}); leave microBatch unset.`, {
      field: 'microBatch',
    });
  }
  if (batch && micro !== undefined && micro < rows) {
    try {
      ({ terms: kept, value, grads } = microBatchGradients((r) => session.batchLossTerms!(sliceRows(batch, r)), vars, { batchSize: rows, microBatch: micro }));
    } finally {
      tf.dispose(Object.values(batch));
    }
  } else {
    ({ value, grads } = tf.variableGrads(() => {
      let terms: Record<string, tf.Scalar>;
      if (batch) {
        try {
          terms = session.batchLossTerms!(batch);
        } finally {
          tf.dispose(Object.values(batch));
        }
      } else {
        terms = session.lossTerms();
      }
      for (const [k, t] of Object.entries(terms)) kept[k] = tf.keep(t);
      return tf.addN(Object.values(terms)) as tf.Scalar;
    }, vars));
  }
  tf.tidy(() => {
    const decayed: Record<string, tf.Tensor> = {};
    for (const v of vars) {
      const g = grads[v.name];
      if (g) decayed[v.name] = config.weightDecay > 0 ? tf.add(g, tf.mul(config.weightDecay, v)) : g;
    }
    optimizer.applyGradients(decayed as tf.NamedTensorMap);
  });
  const out: Record<string, number> = { loss: value.dataSync()[0] as number };
  for (const [k, t] of Object.entries(kept)) out[k] = t.dataSync()[0] as number;
  tf.dispose([value, ...Object.values(grads), ...Object.values(kept)]);
  return out;
}
