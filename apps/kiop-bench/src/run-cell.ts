import * as tf from '@tensorflow/tfjs';
import type { Synthesizer } from '@promptkd/core';
import { createRunFolder, createProgress, type RunFolder } from '@promptkd/experiments';
import {
  createKiopContext,
  trainKiop,
  type KiopConfig,
  type KiopEpoch,
  type KiopResult,
  type ResumableSynthesizer,
  type VariantSession,
} from '@promptkd/kiop';
import { CmiGenerator } from '@promptkd/models';
import { renderPromptPng, type SegmentedPrompt } from '@promptkd/visual-prompt';
import { evalBatches, kiopTransform } from '@promptkd/datasets';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildNetwork, type PreparedParticipant } from './participants.js';
import type { BenchPreset } from './bench-presets.js';
import { writeServablePrompts } from './serve-artifacts.js';

/** What a finished cell writes to `results.json`. */
export interface CellResults extends KiopResult {
  readonly host: { dataset: string; cleanAccuracy: number; weights: string };
  readonly sources: { dataset: string; cleanAccuracy: number; weights: string }[];
  readonly promptParameters: { effective: number; stored: number } | undefined;
  readonly seconds: number;
  /** Servable prompt artifacts (one per source), for `promptkd serve`. */
  readonly promptArtifacts?: readonly string[];
}

interface CellState {
  epochs: readonly KiopEpoch[];
  synthesizers: Record<string, unknown>;
}

type Resumable = Synthesizer & ResumableSynthesizer;

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
  let history: KiopEpoch[] = [];
  // progress units: generator iterations of every bank + knowledge-storing steps
  const banks = { kiopBF: 2, multiModel: sources.length + 1, realDataRef: 0 }[config.variant as string] ?? 1;
  const perEpoch = config.kdSteps + banks * config.synthesis.gSteps * config.synthesis.roundsPerEpoch;
  const progress = createProgress({ total: config.epochs * perEpoch, label: `${options.name}`, silent: options.quiet });
  try {
    const result = await trainKiop(ctx, {
      onStep: ({ loss }) => progress.tick(1, { phase: 'storing', loss: loss.toFixed(4) }),
      async resume(session, optimizer) {
        const ckpt = await folder.loadLatestCheckpoint<CellState>();
        if (!ckpt) return undefined;
        try {
          const vars = session.stateVariables();
          for (const [name, v] of Object.entries(vars)) {
            const t = ckpt.tensors[`state/${name}`];
            if (!t) throw new Error(`checkpoint lacks 'state/${name}'`);
            v.assign(t);
          }
          await ckpt.restoreOptimizer('main', optimizer, { variableOrder: session.trainableVariables().map((v) => v.name) });
          for (const { bank, synthesizer } of session.synthesizers) {
            const s = synthesizer as Resumable;
            const prefix = `synth/${bank}/`;
            const tensors = Object.fromEntries(
              Object.entries(ckpt.tensors).filter(([k]) => k.startsWith(prefix)).map(([k, t]) => [k.slice(prefix.length), t]),
            );
            await s.importState?.({ tensors, state: ckpt.state.synthesizers[bank] });
          }
          const startEpoch = ckpt.epoch ?? ckpt.state.epochs.length;
          folder.rewindMetrics((r) => typeof r.epoch === 'number' && r.epoch < startEpoch && r.event === undefined);
          folder.appendMetrics({ event: 'resumed', fromEpoch: startEpoch });
          progress.tick(startEpoch * perEpoch);
          history = [...ckpt.state.epochs];
          return { startEpoch, done: ckpt.state.epochs };
        } finally {
          ckpt.dispose();
        }
      },
      async onEpoch(epoch, session, optimizer) {
        folder.appendMetrics({
          epoch: epoch.epoch,
          lr: epoch.lr,
          ...epoch.metrics,
          ...epoch.diagnostics,
          ...prefixed('loss.', epoch.losses),
          ...Object.assign({}, ...Object.entries(epoch.synthesis).map(([bank, v]) => prefixed(`synth${bank}.`, v))),
          seconds: epoch.seconds,
        });
        history.push(epoch);
        await checkpoint(folder, session, optimizer, epoch, config, history);
      },
    });
    progress.stop();
    const prompt = ctx.prompt as unknown as SegmentedPrompt;
    const promptArtifacts =
      config.variant === 'vanillaKd'
        ? undefined
        : await writeServablePrompts({ runDir: folder.dir, config, cell: options.name, host, sources, prompt, mappings: ctx.mappings, final: result.final });
    const results: CellResults = {
      ...result,
      host: { dataset: host.dataset, cleanAccuracy: host.cleanAccuracy, weights: host.weights },
      sources: sources.map((s) => ({ dataset: s.dataset, cleanAccuracy: s.cleanAccuracy, weights: s.weights })),
      promptParameters: config.variant === 'vanillaKd' ? undefined : prompt.parameterCount(),
      seconds: (performance.now() - started) / 1000,
      ...(promptArtifacts ? { promptArtifacts } : {}),
    };
    if (config.variant !== 'vanillaKd') {
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

function prefixed(prefix: string, record: Readonly<Record<string, number>>): Record<string, number> {
  return Object.fromEntries(Object.entries(record).map(([k, v]) => [prefix + k, v]));
}

async function checkpoint(
  folder: RunFolder,
  session: VariantSession,
  optimizer: tf.Optimizer,
  epoch: KiopEpoch,
  config: KiopConfig,
  history: readonly KiopEpoch[],
) {
  const tensors: Record<string, tf.Tensor> = {};
  for (const [name, v] of Object.entries(session.stateVariables())) tensors[`state/${name}`] = v;
  const synthesizers: Record<string, unknown> = {};
  const owned: tf.Tensor[] = [];
  for (const { bank, synthesizer } of session.synthesizers) {
    const s = synthesizer as Resumable;
    if (!s.exportState) continue;
    const saved = await s.exportState();
    for (const [k, t] of Object.entries(saved.tensors)) {
      tensors[`synth/${bank}/${k}`] = t;
      owned.push(t);
    }
    synthesizers[bank] = saved.state;
  }
  try {
    await folder.saveCheckpoint({
      step: (epoch.epoch + 1) * config.kdSteps,
      epoch: epoch.epoch + 1,
      tensors,
      optimizers: { main: optimizer },
      state: { epochs: history, synthesizers } satisfies CellState,
    });
  } finally {
    tf.dispose(owned);
  }
}
