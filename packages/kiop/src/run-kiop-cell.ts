import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { combineCallbacks, type LabelMapping, type Synthesizer } from '@promptkd/core';
import { CMISynthesizer } from '@promptkd/data-free';
import { evalBatches, kiopTransform } from '@promptkd/datasets';
import { createProgress, createRunFolder, runFolderCheckpoints, type RunFolder } from '@promptkd/experiments';
import { CmiGenerator } from '@promptkd/models';
import { renderPromptPng, type SegmentedPrompt } from '@promptkd/visual-prompt';
import { renderBankPng } from './bank-figure.js';
import type { KiopConfig } from './config.js';
import { buildPresetNetwork, type ParticipantPreset } from './participant-presets.js';
import { createKiopContext } from './pipeline.js';
import type { PreparedParticipant } from './prepare-participant.js';
import type { PromptBnStatistics } from './prompt-bn-statistics.js';
import { kiopVariantRegistry, synthesizedBanks } from './registry.js';
import type { KiopContext } from './session.js';
import { sourceAccuracyName } from './source-accuracy-name.js';
import { trainKiop, type KiopEpochEnd, type KiopResult, type KiopStepEnd } from './train-kiop.js';

/** What a finished cell writes to `results.json` ({@link runKiopCell}). */
export interface KiopCellResults extends Omit<KiopResult, 'promptBnStatistics'> {
  /** `data`: where the images came from and the split rule (absent in results written before it was recorded). */
  readonly host: { dataset: string; cleanAccuracy: number; weights: string; data?: string };
  /** One entry per source, in order (B, C, …). */
  readonly sources: { dataset: string; cleanAccuracy: number; weights: string; data?: string }[];
  /** The prompt's parameter count (undefined for Vanilla-KD, which trains no prompt). */
  readonly promptParameters: { effective: number; stored: number } | undefined;
  /** Wall time of the cell (training and evaluation; excludes preparing the participants). */
  readonly seconds: number;
  /** The KiOP preset the cell's config came from (`demo`, `cpu`, …), when the caller named it; tables pick the claims' thresholds by it. */
  readonly preset?: string;
  /** Servable prompt artifacts (one per source), for `promptkd serve`. */
  readonly promptArtifacts?: readonly string[];
  /**
   * With a batch-statistics host (`fidelity.hostBnTrainMode`): the final accuracies as a server gets them, the host in
   * eval mode on the prompt's own BN statistics (`accB`, …), next to `final`'s batch-statistics numbers.
   */
  readonly served?: Readonly<Record<string, number>>;
}

/** What {@link runKiopCell} hands to its `writePromptArtifacts` after training, before anything is disposed. */
export interface KiopPromptArtifactsInput {
  /** The cell's run folder. */
  readonly runDir: string;
  /** The run's cell name (e.g. `<host>__<source>/<variant>__s<seed>`). */
  readonly cell: string;
  readonly config: KiopConfig;
  readonly host: PreparedParticipant;
  readonly sources: readonly PreparedParticipant[];
  /** The trained nested prompt. */
  readonly prompt: SegmentedPrompt;
  /** One label mapping per source, in order. */
  readonly mappings: readonly LabelMapping[];
  /** The final epoch's accuracies (`accA`, `accB`, …). */
  readonly final: Readonly<Record<string, number>>;
  /** Per source, from trainKiop (batch-statistics host only). */
  readonly promptBnStatistics?: readonly PromptBnStatistics[];
}

/** Options of {@link runKiopCell}. */
export interface RunKiopCellOptions {
  /** Runs root: the cell's run folder is `<root>/<name>`. */
  readonly root: string;
  /** The cell's name (its folder under `root`). */
  readonly name: string;
  readonly config: KiopConfig;
  /** How the participants were built (recorded in `config.json`; Vanilla-KD's student is built from it). */
  readonly preset: ParticipantPreset;
  /** Frozen host (model A) with its data ({@link prepareParticipant}). */
  readonly host: PreparedParticipant;
  /** Frozen sources (models B, C, …) with their data. */
  readonly sources: readonly PreparedParticipant[];
  /** The KiOP preset `config` came from, recorded in `results.json` as `preset`. */
  readonly presetName?: string;
  /** No progress bar. */
  readonly quiet?: boolean;
  /**
   * Writes the trained prompt's artifacts and returns their files (recorded as `promptArtifacts`), e.g.
   * `@promptkd/serve`'s `writeServablePrompts`. Not called for variants that train no prompt.
   */
  readonly writePromptArtifacts?: (input: KiopPromptArtifactsInput) => Promise<readonly string[]>;
}

/**
 * Runs one KiOP cell (host, sources, variant, config) in a run folder (`@promptkd/experiments`): a checkpoint at
 * every epoch end (trained tensors, optimizer state, synthesizer banks and heads), metrics as JSONL,
 * `results.json` ({@link KiopCellResults}), the prompt as `figures/prompt.png` (on the host's first test image), each
 * synthetic bank as `figures/bank-<B|A|C>.png` (one row per class: the images the prompt or student trained on) and,
 * with `writePromptArtifacts`, the prompt's artifacts. Running the same cell in the same folder again resumes from
 * the last good checkpoint; a finished cell returns its results without training. A failure marks the folder failed.
 *
 * @example
 * const host = await prepareParticipant({ dataset: 'mnist', preset: participantPresets.demo, seed: 0 });
 * const source = await prepareParticipant({ dataset: 'fashionMnist', preset: participantPresets.demo, seed: 0 });
 * const config = kiopConfigSchema.parse({ ...kiopPresets.demo, variant: 'kiopBF', seed: 0 });
 * const { folder, results } = await runKiopCell({ root: 'runs', name: 'mnist__fashionMnist/kiopBF__s0', config,
 *   preset: participantPresets.demo, host, sources: [source] });
 */
export async function runKiopCell(options: RunKiopCellOptions): Promise<{ folder: RunFolder; results: KiopCellResults }> {
  const { config, host, sources } = options;
  const started = performance.now();
  const folder = createRunFolder(options.root, {
    name: options.name,
    seed: config.seed,
    // `bench`: the key the first run folders used, so that they still resume
    config: { kiop: config, bench: options.preset, host: host.dataset, sources: sources.map((s) => s.dataset) },
  });
  const done = folder.readResults<KiopCellResults>();
  if (done) return { folder, results: done };

  const { ctx: context, dispose } = createKiopContext({
    config,
    host: { dataset: host.dataset, model: host.model, test: host.test, train: host.train },
    sources: sources.map((s) => ({ dataset: s.dataset, model: s.model, test: s.test, train: s.train })),
    createGenerator: ({ nz, ngf, imageSize, channels, seed }) => new CmiGenerator({ nz, ngf, imageSize, channels, seed }),
    buildHostLike: (k) => buildPresetNetwork(options.preset, k, config.seed),
    onSynthesisIteration: (bank) => progress.tick(1, { phase: `synthesis ${bank}` }),
  });
  // Keep each bank's synthesizer, to picture its bank at the end (figures/bank-<name>.png).
  const banks: { name: string; numClasses: number; synthesizer: Synthesizer }[] = [];
  const ctx: KiopContext = {
    ...context,
    createSynthesizer: (req) => {
      const synthesizer = context.createSynthesizer(req);
      banks.push({ name: req.bank, numClasses: req.numClasses, synthesizer });
      return synthesizer;
    },
  };
  // progress units: generator iterations of every bank + knowledge-storing steps
  const perEpoch = config.kdSteps + synthesizedBanks(config.variant, sources.length) * config.synthesis.gSteps * config.synthesis.roundsPerEpoch;
  const progress = createProgress({ total: config.epochs * perEpoch, label: `${options.name}`, silent: options.quiet });
  try {
    const { promptBnStatistics, ...result } = await trainKiop(ctx, combineCallbacks<KiopEpochEnd, KiopStepEnd>(runFolderCheckpoints(folder), {
      onTrainBegin: ({ training }) => void progress.tick((training as KiopEpochEnd['training']).history.length * perEpoch),
      onStepEnd: ({ loss }) => void progress.tick(1, { phase: 'storing', loss: loss.toFixed(4) }),
    }));
    progress.stop();
    const prompt = ctx.prompt as unknown as SegmentedPrompt;
    const usesPrompt = kiopVariantRegistry.get(config.variant).meta?.usesPrompt ?? true;
    const promptArtifacts = usesPrompt && options.writePromptArtifacts
      ? await options.writePromptArtifacts({
          runDir: folder.dir, config, cell: options.name, host, sources, prompt, mappings: ctx.mappings, final: result.final,
          ...(promptBnStatistics ? { promptBnStatistics } : {}),
        })
      : undefined;
    const served = promptBnStatistics ? Object.fromEntries(promptBnStatistics.map((b) => [sourceAccuracyName(b.source), b.accuracy])) : undefined;
    const results: KiopCellResults = {
      ...result,
      host: { dataset: host.dataset, cleanAccuracy: host.cleanAccuracy, weights: host.weights, data: host.data },
      sources: sources.map((s) => ({ dataset: s.dataset, cleanAccuracy: s.cleanAccuracy, weights: s.weights, data: s.data })),
      promptParameters: usesPrompt ? prompt.parameterCount() : undefined,
      seconds: (performance.now() - started) / 1000,
      ...(options.presetName ? { preset: options.presetName } : {}),
      ...(promptArtifacts ? { promptArtifacts } : {}),
      ...(served ? { served } : {}),
    };
    if (usesPrompt) {
      const first = evalBatches(host.test, { batchSize: 1, transform: kiopTransform(host.dataset, 'test') })[Symbol.iterator]().next();
      const example = first.done ? undefined : tf.tidy(() => tf.squeeze(first.value.x, [0]) as tf.Tensor3D);
      if (!first.done) tf.dispose([first.value.x, first.value.y]);
      writeFileSync(join(folder.paths.figures, 'prompt.png'), renderPromptPng(prompt, { scale: 4, example }));
      example?.dispose();
    }
    for (const b of banks) {
      const png = b.synthesizer instanceof CMISynthesizer ? renderBankPng(b.synthesizer.imageBank, b.numClasses) : undefined;
      if (png) writeFileSync(join(folder.paths.figures, `bank-${b.name}.png`), png);
    }
    folder.writeResults(results);
    return { folder, results };
  } catch (err) {
    folder.markFailed(err);
    throw err;
  } finally {
    dispose();
  }
}
