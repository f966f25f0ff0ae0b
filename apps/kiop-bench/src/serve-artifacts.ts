import { join, resolve } from 'node:path';
import type { LabelMapping } from '@promptkd/core';
import type { KiopConfig } from '@promptkd/kiop';
import { servablePromptInput, sha256File } from '@promptkd/serve';
import { savePromptArtifact, type VisualPrompt } from '@promptkd/visual-prompt/node';
import type { PreparedParticipant } from './participants.js';

const ACC_NAMES = ['accB', 'accC', 'accD', 'accE'];

/**
 * Writes the trained prompt as one servable artifact per source (`<run>/prompts/<source>-<variant>-s<seed>.safetensors`
 * + `.json`): the host's identity (SHA-256 of its weights file), the source's image shape, class names and label
 * mapping, the segments its task uses (SMB: 2, SMC: 3) and the recorded Acc.B (Acc.C…). `promptkd serve` loads them.
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
}): Promise<string[]> {
  const { config, host, sources } = options;
  const weightsSha256 = await sha256File(host.weights);
  const files: string[] = [];
  for (const [i, s] of sources.entries()) {
    const accName = ACC_NAMES[i] ?? `acc${i + 2}`;
    const acc = options.final[accName];
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
      },
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
