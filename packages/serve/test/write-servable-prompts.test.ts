import * as tf from '@tensorflow/tfjs';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '@promptkd/core';
import { createImageDataset, FASHION_MNIST_CLASSES, kiopTransform, type ImageDataset } from '@promptkd/datasets';
import { kiopConfigSchema, kiopPresets, type KiopConfig } from '@promptkd/kiop';
import type { KiopPromptArtifactsInput, PreparedParticipant } from '@promptkd/kiop/node';
import { FixedLabelMapping } from '@promptkd/label-mapping';
import { bnPopulationStatistics } from '@promptkd/models';
import { loadPromptArtifact, SegmentedPrompt } from '@promptkd/visual-prompt/node';
import { writeServablePrompts } from '../src/index.js';
import { makeHost, startServer, type HostFixture } from './fixtures.js';

// What `promptkd kiop run` writes after training (runKiopCell's writePromptArtifacts): one servable artifact per
// source, with the host's identity, the source task, the recorded Acc.B and, for a batch-statistics host, the
// prompt's own BN statistics; the server loads the folder as is.
const work = mkdtempSync(join(tmpdir(), 'promptkd-write-servable-'));
let host: HostFixture;
let prompt: SegmentedPrompt;

function dataset(name: string, [h, w, c]: readonly [number, number, number], classNames: readonly string[], count: number): ImageDataset {
  const rng = Rng.fromSeed(count);
  return createImageDataset({
    name,
    images: Uint8Array.from({ length: count * h * w * c }, () => Math.floor(rng.random() * 256)),
    labels: Int32Array.from({ length: count }, (_, i) => i % classNames.length),
    height: h,
    width: w,
    channels: c,
    numClasses: classNames.length,
    classNames,
  });
}

function participant(dataset_: string, test: ImageDataset, model: HostFixture['model'], weights: string): PreparedParticipant {
  return { dataset: dataset_, model, train: test, test, cleanAccuracy: 0.9, weights, data: 'random bytes' };
}

function input(config: KiopConfig, runDir: string, extra: Partial<KiopPromptArtifactsInput> = {}): KiopPromptArtifactsInput {
  const hostTest = dataset('mnist/test', [28, 28, 1], Array.from({ length: 10 }, (_, i) => String(i)), 10);
  const sourceTest = dataset('fashionMnist/test', [28, 28, 1], FASHION_MNIST_CLASSES, 20);
  return {
    runDir,
    cell: `mnist__fashionMnist/${config.variant}__s${config.seed}`,
    config,
    host: participant('mnist', hostTest, host.model, host.file),
    // the writer reads only the source's dataset key and test split, never its model
    sources: [participant('fashionMnist', sourceTest, host.model, 'unused')],
    prompt,
    mappings: [new FixedLabelMapping([9, 8, 7, 6, 5, 4, 3, 2, 1, 0], 10)],
    final: { accA: 0.75, accB: 0.25 },
    ...extra,
  };
}

beforeAll(async () => {
  host = await makeHost(work);
  prompt = new SegmentedPrompt({ sizes: [32, 36, 48], channels: 3 });
  tf.tidy(() => prompt.trainableVariables().forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 1, 'float32', i))));
});

afterAll(() => {
  host?.model.dispose();
  prompt?.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('writeServablePrompts', () => {
  it('an eval-mode host: one artifact per source with the host identity, the task, the label mapping and Acc.B; the server loads it', async () => {
    const config = kiopConfigSchema.parse({ ...kiopPresets.smoke, variant: 'kiopT', seed: 3 });
    expect(config.fidelity.hostBnTrainMode).toBe(false);
    const runDir = join(work, 'eval-run');
    const files = await writeServablePrompts(input(config, runDir));
    expect(files).toEqual([join(runDir, 'prompts', 'fashionMnist-kiopT-s3.safetensors')]);
    expect(existsSync(join(runDir, 'prompts', 'fashionMnist-kiopT-s3.json'))).toBe(true);
    const loaded = await loadPromptArtifact(files[0]!);
    loaded.prompt.dispose();
    expect(loaded.metadata.extra!.serve).toMatchObject({
      host: { arch: 'bnCnn', dataset: 'mnist', weightsSha256: host.sha256, numClasses: 10, inputChannels: 3, bnMode: 'eval' },
      source: {
        dataset: 'fashionMnist',
        imageShape: [28, 28, 1],
        classNames: [...FASHION_MNIST_CLASSES],
        segments: 2,
        accuracy: { name: 'accB', value: 0.25, images: 20 },
      },
      run: { dir: runDir, variant: 'kiopT', seed: 3, cell: 'mnist__fashionMnist/kiopT__s3' },
    });
    const key = (loaded.metadata.extra!.serve as { source: { labelMapping: string } }).source.labelMapping;
    expect(loaded.metadata.labelMappings![key]).toEqual([9, 8, 7, 6, 5, 4, 3, 2, 1, 0]);

    const { app, url } = await startServer({ host: host.file, prompts: join(runDir, 'prompts'), watch: false });
    try {
      const list = (await (await fetch(`${url}/v1/prompts`)).json()) as { prompts: Record<string, unknown>[] };
      expect(list.prompts).toMatchObject([{ id: 'fashionMnist-kiopT-s3', bnMode: 'eval', accuracy: { name: 'accB', value: 0.25, images: 20 } }]);
    } finally {
      await app.close();
    }
  });

  it('a batch-statistics host with prompt BN statistics: bnMode promptStatistics, the statistics as tensors and the served Acc.B', async () => {
    const base = kiopConfigSchema.parse({ ...kiopPresets.smoke, variant: 'kiopB', seed: 0 });
    const config = { ...base, fidelity: { ...base.fidelity, hostBnTrainMode: true } };
    const canvases = [0, 1].map((b) =>
      tf.tidy(() => prompt.apply(kiopTransform('fashionMnist', 'test')(tf.randomUniform([8, 28, 28, 1], 0, 1, 'float32', b) as tf.Tensor4D, Rng.fromSeed(0)), { upTo: 2 })),
    );
    const statistics = bnPopulationStatistics(host.model, canvases);
    tf.dispose(canvases);
    const runDir = join(work, 'bn-run');
    const [file] = await writeServablePrompts(input(config, runDir, { promptBnStatistics: [{ source: 1, statistics, data: 'synthetic bank B', accuracy: 0.2 }] }));
    const loaded = await loadPromptArtifact(file!);
    loaded.prompt.dispose();
    const serve = loaded.metadata.extra!.serve as { host: { bnMode: string }; bnStatistics: { layers: string[]; images: number; data: string }; source: Record<string, unknown> };
    expect(serve.host.bnMode).toBe('promptStatistics');
    expect(serve.bnStatistics).toEqual({ layers: Object.keys(statistics.layers), images: statistics.images, data: 'synthetic bank B' });
    expect(serve.source).toMatchObject({ accuracy: { name: 'accB', value: 0.25, images: 20 }, servedAccuracy: { name: 'accB', value: 0.2, images: 20 } });
    expect(Object.keys(loaded.extraTensors).sort()).toEqual(serve.bnStatistics.layers.flatMap((l) => [`bn.${l}.mean`, `bn.${l}.variance`]).sort());
  });
});
