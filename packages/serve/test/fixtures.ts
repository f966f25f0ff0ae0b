// Tiny hosts and prompts for the serve tests: a BN CNN host with non-trivial running statistics, saved like the
// apps save theirs, and servable prompt artifacts for two source tasks and two canvas sizes.
import * as tf from '@tensorflow/tfjs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encode } from 'fast-png';
import { Rng } from '@promptkd/core';
import { FASHION_MNIST_CLASSES, CIFAR10_CLASSES, kiopTransform } from '@promptkd/datasets';
import { FusedModels } from '@promptkd/kiop';
import { FixedLabelMapping } from '@promptkd/label-mapping';
import { bnOverrideTensors, bnPopulationStatistics, createModel, saveModelWeights, type BnPopulation, type FunctionalClassifier } from '@promptkd/models/node';
import { encodePromptArtifact, SegmentedPrompt } from '@promptkd/visual-prompt';
import { createPromptServer, servablePromptInput, sha256File, type PromptServerOptions } from '../src/index.js';

export interface HostFixture {
  readonly file: string;
  readonly sha256: string;
  readonly model: FunctionalClassifier;
}

/** A 10-class BN CNN host (blocks 4, 8) whose BN running statistics are not the defaults, saved to `dir`. */
export async function makeHost(dir: string, seed = 1): Promise<HostFixture> {
  const model = createModel('bnCnn', { blocks: [4, 8], numClasses: 10, seed });
  const rng = Rng.fromSeed(seed);
  for (const [name, v] of model.namedVariables()) {
    if (name.endsWith('running_var')) v.assign(tf.tensor(Array.from({ length: v.size }, () => 0.5 + rng.random()), v.shape));
    if (name.endsWith('running_mean')) v.assign(tf.tensor(Array.from({ length: v.size }, () => rng.random() - 0.5), v.shape));
  }
  const file = join(dir, `host-${seed}.safetensors`);
  await saveModelWeights(model, file, { dataset: 'mnist' });
  model.setTrainable(false);
  return { file, sha256: await sha256File(file), model };
}

/** The source tasks the fixtures serve. */
export const TASKS = {
  fashion: { dataset: 'fashionMnist', imageShape: [28, 28, 1] as const, classNames: [...FASHION_MNIST_CLASSES] },
  cifar: { dataset: 'cifar10', imageShape: [32, 32, 3] as const, classNames: [...CIFAR10_CLASSES] },
};

export interface PromptFixture {
  readonly id: string;
  readonly prompt: SegmentedPrompt;
  readonly mapping: number[];
  readonly task: (typeof TASKS)[keyof typeof TASKS];
  readonly bytes: Uint8Array;
  /** Prompt-specific BN statistics (a batch-statistics prompt), when made with `bnStatistics`. */
  readonly stats?: BnPopulation;
}

/** A random nested prompt 32 → 36 → `canvas` with a random label mapping, as servable artifact bytes. */
export function makePrompt(
  id: string,
  host: HostFixture,
  options: {
    task?: keyof typeof TASKS;
    canvas?: number;
    seed?: number;
    sha256?: string;
    bnTrainMode?: boolean;
    /** A batch-statistics prompt with its BN statistics, measured over 48 random prompted images (batches of 16). */
    bnStatistics?: boolean;
    /** Edits the statistics before they are saved (to make bad artifacts). */
    editStats?: (s: BnPopulation) => BnPopulation;
  } = {},
): PromptFixture {
  const task = TASKS[options.task ?? 'fashion'];
  const seed = options.seed ?? 0;
  const prompt = new SegmentedPrompt({ sizes: [32, 36, options.canvas ?? 40], channels: 3 });
  tf.tidy(() => prompt.trainableVariables().forEach((v, i) => v.assign(tf.randomNormal(v.shape, 0, 2, 'float32', seed * 10 + i))));
  const mapping = Rng.fromSeed(seed + 100).permutation(10).slice(0, task.classNames.length);
  let stats: BnPopulation | undefined;
  if (options.bnStatistics) {
    const [h, w, c] = task.imageShape;
    const canvases = [0, 1, 2].map((b) =>
      tf.tidy(() => prompt.apply(kiopTransform(task.dataset, 'test')(tf.randomUniform([16, h, w, c], 0, 1, 'float32', seed * 7 + b) as tf.Tensor4D, Rng.fromSeed(0)), { upTo: 2 })),
    );
    stats = bnPopulationStatistics(host.model, canvases);
    tf.dispose(canvases);
  }
  const saved = stats && options.editStats ? options.editStats(stats) : stats;
  const { safetensors } = encodePromptArtifact(
    prompt,
    servablePromptInput({
      host: {
        arch: 'bnCnn',
        dataset: 'mnist',
        weightsSha256: options.sha256 ?? host.sha256,
        numClasses: 10,
        inputChannels: 3,
        bnTrainMode: options.bnTrainMode ?? options.bnStatistics ?? false,
      },
      source: {
        dataset: task.dataset,
        imageShape: task.imageShape,
        classNames: task.classNames,
        labelMapping: mapping,
        segments: 2,
        accuracy: { name: 'accB', value: 0.5, images: 30 },
        ...(stats ? { servedAccuracy: { name: 'accB', value: 0.4, images: 30 } } : {}),
      },
      ...(saved ? { bnStatistics: { ...saved, data: 'random prompted images' } } : {}),
      run: { seed },
    }),
  );
  return { id, prompt, mapping, task, bytes: safetensors, ...(stats ? { stats } : {}) };
}

export function writePrompt(dir: string, p: PromptFixture): string {
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `${p.id}.safetensors`);
  writeFileSync(file, p.bytes);
  return file;
}

/**
 * What a KiOP run's own evaluation gives for these images: SMB(x) = LM(f_A(PP(PC(x)))) with the host in eval mode
 * (`FusedModels` of @promptkd/kiop), x = the KiOP test transform of the source images; for a prompt with BN
 * statistics, the host in eval mode on them (`smkWithStatistics`).
 */
export function referenceLogits(host: HostFixture, p: PromptFixture, images: Float32Array, count: number): Float32Array[] {
  const [h, w, c] = p.task.imageShape;
  const fused = new FusedModels(host.model, p.prompt, [new FixedLabelMapping(p.mapping, 10, 'random')], { hostBnTrainMode: false });
  const out = tf.tidy(() => {
    const raw = tf.tensor4d(images, [count, h, w, c]);
    const x = kiopTransform(p.task.dataset, 'test')(raw, Rng.fromSeed(0));
    if (!p.stats) return fused.smb(x).dataSync() as Float32Array;
    const override = bnOverrideTensors(p.stats);
    return fused.smkWithStatistics(1, x, override).dataSync() as Float32Array;
  });
  const k = p.mapping.length;
  return Array.from({ length: count }, (_, i) => out.slice(i * k, (i + 1) * k));
}

/** Deterministic pseudo-random 8-bit images (`count × H×W×C` bytes). */
export function randomBytes(count: number, shape: readonly [number, number, number], seed: number): Uint8Array<ArrayBuffer> {
  const rng = Rng.fromSeed(seed);
  return Uint8Array.from({ length: count * shape[0] * shape[1] * shape[2] }, () => Math.floor(rng.random() * 256));
}

export function toFloats(bytes: Uint8Array): Float32Array<ArrayBuffer> {
  return Float32Array.from(bytes, (b) => b / 255);
}

/** One image of `bytes` (grey or RGB) as PNG. */
export function png(bytes: Uint8Array, [h, w, c]: readonly [number, number, number]): Uint8Array<ArrayBuffer> {
  return new Uint8Array(encode({ width: w, height: h, data: bytes, channels: c, depth: 8 }));
}

/** Starts a prompt server on 127.0.0.1, port 0; returns its base URL and the instance. */
export async function startServer(options: PromptServerOptions) {
  const app = await createPromptServer({ logger: false, processMetrics: false, ...options });
  const url = await app.listen({ host: '127.0.0.1', port: 0 });
  return { app, url };
}

/** Float32 bits of a number array, for exact comparisons. */
export function bits(values: ArrayLike<number>): number[] {
  return Array.from(new Uint32Array(Float32Array.from(values as ArrayLike<number>).buffer));
}

export function writeText(file: string, text: string): void {
  writeFileSync(file, text);
}
