import { join } from 'node:path';
import { sourceAccuracyName } from '@promptkd/kiop';
import type { KiopPromptArtifactsInput } from '@promptkd/kiop/node';
import { savePromptArtifact } from '@promptkd/visual-prompt/node';
import { servablePromptInput, sha256File } from './servable.js';

/**
 * Writes a trained KiOP prompt as one servable artifact per source (`<run>/prompts/<source>-<variant>-s<seed>.safetensors`
 * + `.json`): the host's identity (SHA-256 of its weights file), the source's image shape, class names and label
 * mapping, the segments its task uses (SMB: 2, SMC: 3) and the recorded Acc.B (Acc.C…). When the host's BN ran on
 * batch statistics, the prompt's own BN statistics (trainKiop's `promptBnStatistics`) go in as tensors, with
 * `bnMode: 'promptStatistics'` and the accuracy measured the way the server runs it (`servedAccuracy`), so the
 * prompt is servable one image at a time. Returns the `.safetensors` paths; {@link createPromptServer} loads them.
 * Fits `runKiopCell`'s `writePromptArtifacts` (`@promptkd/kiop/node`).
 *
 * @example
 * await runKiopCell({ root, name, config, preset, host, sources, writePromptArtifacts: writeServablePrompts });
 */
export async function writeServablePrompts(options: KiopPromptArtifactsInput): Promise<string[]> {
  const { config, host, sources } = options;
  const weightsSha256 = await sha256File(host.weights);
  const files: string[] = [];
  for (const [i, s] of sources.entries()) {
    const accName = sourceAccuracyName(i + 1);
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
