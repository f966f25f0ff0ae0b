import { join, resolve } from 'node:path';
import type { LabelMapping } from '@promptkd/core';
import type { KiopConfig, PromptBnStatistics } from '@promptkd/kiop';
import { servablePromptInput, sha256File } from '@promptkd/serve';
import { savePromptArtifact, type VisualPrompt } from '@promptkd/visual-prompt/node';
import type { PreparedParticipant } from './participants.js';

const ACC_NAMES = ['accB', 'accC', 'accD', 'accE'];

/**
 * Writes the trained prompt as one servable artifact per source (`<run>/prompts/<source>-<variant>-s<seed>.safetensors`
 * + `.json`): the host's identity (SHA-256 of its weights file), the source's image shape, class names and label
 * mapping, the segments its task uses (SMB: 2, SMC: 3) and the recorded Acc.B (Acc.C…). When the host's BN ran on
 * batch statistics, the prompt's own BN statistics (trainKiop's `promptBnStatistics`) go in as tensors, with
 * `bnMode: 'promptStatistics'` and the accuracy measured the way the server runs it (`servedAccuracy`), so the
 * prompt is servable one image at a time. `promptkd serve` loads them.
 */
export async function writeServablePrompts(options: {
  runDir: string;
  config: KiopConfig;
  /** The run's cell id (`<host>__<source>/<variant>__s<seed>`). */
  cell: string;
  host: PreparedParticipant;
  sources: readonly PreparedParticipant[];
  prompt: VisualPrompt;
  mappings: readonly LabelMapping[];
  final: Readonly<Record<string, number>>;
  /** Per source, from trainKiop (batch-statistics host only). */
  promptBnStatistics?: readonly PromptBnStatistics[];
}): Promise<string[]> {
  const { config, host, sources } = options;
  const weightsSha256 = await sha256File(host.weights);
  const files: string[] = [];
  for (const [i, s] of sources.entries()) {
    const accName = ACC_NAMES[i] ?? `acc${i + 2}`;
    const acc = options.final[accName];
    const bn = options.promptBnStatistics?.find((b) => b.source === i + 1);
    const target = join(options.runDir, 'prompts', `${s.dataset}-${config.variant}-s${config.seed}.safetensors`);
    const input = servablePromptInput({
      host: {
        arch: host.model.name,
        dataset: host.dataset,
        weightsSha256,
        numClasses: host.model.numClasses,
        inputChannels: host.model.inputChannels,
        normalization: host.model.normalization,
        bnTrainMode: config.fidelity.hostBnTrainMode,
      },
      source: {
        dataset: s.dataset,
        imageShape: [s.test.height, s.test.width, s.test.channels],
        classNames: s.test.classNames,
        labelMapping: options.mappings[i]!.mapping,
        segments: i + 2,
        ...(acc !== undefined ? { accuracy: { name: accName, value: acc, images: s.test.count } } : {}),
        ...(bn ? { servedAccuracy: { name: accName, value: bn.accuracy, images: s.test.count } } : {}),
      },
      ...(bn ? { bnStatistics: { layers: bn.statistics.layers, images: bn.statistics.images, data: bn.data } } : {}),
      description: `KiOP ${config.variant} prompt: ${s.dataset} knowledge on a frozen ${host.dataset} ${host.model.name} host`,
      run: { dir: options.runDir, variant: config.variant, seed: config.seed, cell: options.cell },
    });
    files.push((await savePromptArtifact(target, options.prompt, input)).safetensorsPath);
  }
  return files;
}

/** The command that serves a finished run's prompts. */
export function serveCommandLine(hostWeights: string, promptsDir: string): string {
  return `promptkd serve --host ${resolve(hostWeights)} --prompts ${resolve(promptsDir)}`;
}

/**
 * One line comparing a batch-statistics run's final accuracies with the served ones (host BN in eval mode on the
 * prompt's own statistics), e.g. `accB 29.10% with batch statistics, 28.40% as served (prompt BN statistics)`.
 */
export function servedLine(results: { final: Readonly<Record<string, number>>; served?: Readonly<Record<string, number>> }): string {
  const pct = (v: number | undefined) => (v === undefined ? '–' : `${(100 * v).toFixed(2)}%`);
  return Object.entries(results.served ?? {})
    .map(([name, v]) => `${name} ${pct(results.final[name])} with batch statistics, ${pct(v)} as served (prompt BN statistics)`)
    .join('; ');
}
