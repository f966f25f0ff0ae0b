import * as tf from '@tensorflow/tfjs';
import { combineCallbacks } from '@promptkd/core';
import { createRunFolder, createProgress, runFolderCheckpoints, type RunFolder } from '@promptkd/experiments';
import {
  createKiopContext,
  kiopVariantRegistry,
  synthesizedBanks,
  trainKiop,
  type KiopConfig,
  type KiopEpochEnd,
  type KiopResult,
  type KiopStepEnd,
} from '@promptkd/kiop';
import { CmiGenerator } from '@promptkd/models';
import { renderPromptPng, type SegmentedPrompt } from '@promptkd/visual-prompt';
import { evalBatches, kiopTransform } from '@promptkd/datasets';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildNetwork, type PreparedParticipant } from './participants.js';
import type { BenchPreset } from './bench-presets.js';
import { writeServablePrompts } from './serve-artifacts.js';

const ACC_NAMES = ['accB', 'accC', 'accD', 'accE'];

/** What a finished cell writes to `results.json`. */
export interface CellResults extends Omit<KiopResult, 'promptBnStatistics'> {
  /** `data`: where the images came from and the split rule (absent in results written before it was recorded). */
  readonly host: { dataset: string; cleanAccuracy: number; weights: string; data?: string };
  readonly sources: { dataset: string; cleanAccuracy: number; weights: string; data?: string }[];
  readonly promptParameters: { effective: number; stored: number } | undefined;
  readonly seconds: number;
  /** Servable prompt artifacts (one per source), for `promptkd serve`. */
  readonly promptArtifacts?: readonly string[];
  /**
   * With a batch-statistics host (`fidelity.hostBnTrainMode`): the final accuracies as a server gets them, the host in
   * eval mode on the prompt's own BN statistics (`accB`, …), next to `final`'s batch-statistics numbers.
   */
  readonly served?: Readonly<Record<string, number>>;
}

/**
 * Runs one KiOP cell (host, sources, variant, config) in a run folder: per-epoch checkpoint (trained tensors,
 * optimizer state, synthesizer banks and heads), metrics as JSONL, `results.json`, the prompt as PNG.
 * Re-running the same cell in the same folder resumes from the last good checkpoint.
 */
export async function runCell(options: {
  root: string;
  name: string;
  config: KiopConfig;
  bench: BenchPreset;
  host: PreparedParticipant;
  sources: PreparedParticipant[];
  quiet?: boolean;
}): Promise<{ folder: RunFolder; results: CellResults }> {
  const { config, host, sources } = options;
  const started = performance.now();
  const folder = createRunFolder(options.root, {
    name: options.name,
    seed: config.seed,
    config: { kiop: config, bench: options.bench, host: host.dataset, sources: sources.map((s) => s.dataset) },
  });
  const done = folder.readResults<CellResults>();
  if (done) return { folder, results: done };

  const { ctx, dispose } = createKiopContext({
    config,
    host: { dataset: host.dataset, model: host.model, test: host.test, train: host.train },
    sources: sources.map((s) => ({ dataset: s.dataset, model: s.model, test: s.test, train: s.train })),
    createGenerator: ({ nz, ngf, imageSize, seed }) => new CmiGenerator({ nz, ngf, imageSize, seed }),
    buildHostLike: (k) => buildNetwork(options.bench, k, config.seed),
    onSynthesisIteration: (bank) => progress.tick(1, { phase: `synthesis ${bank}` }),
  });
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
    const promptArtifacts = usesPrompt
      ? await writeServablePrompts({
          runDir: folder.dir, config, cell: options.name, host, sources, prompt, mappings: ctx.mappings, final: result.final,
          ...(promptBnStatistics ? { promptBnStatistics } : {}),
        })
      : undefined;
    const served = promptBnStatistics
      ? Object.fromEntries(promptBnStatistics.map((b) => [ACC_NAMES[b.source - 1] ?? `acc${b.source + 1}`, b.accuracy]))
      : undefined;
    const results: CellResults = {
      ...result,
      host: { dataset: host.dataset, cleanAccuracy: host.cleanAccuracy, weights: host.weights, data: host.data },
      sources: sources.map((s) => ({ dataset: s.dataset, cleanAccuracy: s.cleanAccuracy, weights: s.weights, data: s.data })),
      promptParameters: usesPrompt ? prompt.parameterCount() : undefined,
      seconds: (performance.now() - started) / 1000,
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
    folder.writeResults(results);
    return { folder, results };
  } catch (err) {
    folder.markFailed(err);
    throw err;
  } finally {
    dispose();
  }
}
