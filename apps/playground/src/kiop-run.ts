import * as tf from '@tensorflow/tfjs';
import { Rng } from '@promptkd/core';
import { imageAt, kiopTransform, type ImageDataset } from '@promptkd/datasets';
import { FusedModels, createKiopContext, kiopConfigSchema, kiopPresets, trainKiop, type KiopEpoch, type KiopResult } from '@promptkd/kiop';
import { CmiGenerator, type FunctionalClassifier } from '@promptkd/models';
import { renderPromptPng, type SegmentedPrompt } from '@promptkd/visual-prompt';
import type { Splits } from './data.js';

/** What a finished run keeps for classifying images: the prompted host (SMB) and the plain host. */
export interface TrainedPrompt {
  readonly result: KiopResult;
  /** Host class probabilities of an image, without the prompt (the host's own task). */
  plain(x: tf.Tensor4D): number[];
  /** Source class probabilities of an image through the prompt and the label mapping (SMB). */
  prompted(x: tf.Tensor4D): number[];
  /** The prompt as a PNG (prompt alone and composited over an example). */
  png(example?: tf.Tensor3D): Uint8Array;
  dispose(): void;
}

/** Options of {@link runKiopB}. */
export interface RunOptions {
  readonly host: FunctionalClassifier;
  readonly source: FunctionalClassifier;
  readonly hostData: Splits;
  readonly sourceData: Splits;
  readonly preset: 'smoke' | 'demo';
  readonly seed: number;
  /** Evaluate Acc.A / Acc.B on at most this many test images each. */
  readonly evalLimit: number;
  readonly onProgress?: (fraction: number, text: string) => void;
  /** After each epoch, with the prompt image of that epoch. */
  readonly onEpoch?: (epoch: KiopEpoch, png: Uint8Array) => void;
}

/** An image of a dataset, after the dataset's KiOP test transform: [1, 32, 32, 3]. */
export function transformedImage(ds: ImageDataset, dataset: string, index: number): tf.Tensor4D {
  const pixels = Float32Array.from(imageAt(ds, index), (v) => v / 255);
  return tf.tidy(() => kiopTransform(dataset, 'test')(tf.tensor4d(pixels, [1, ds.height, ds.width, ds.channels]), Rng.fromSeed(0)));
}

/**
 * KiOP-B in the page (the library's `createKiopContext` + `trainKiop`, as the Node demo runs it): the host is MNIST,
 * the source Fashion-MNIST, the host's real training images are data bank A and CMI synthesises bank B.
 */
export async function runKiopB(o: RunOptions): Promise<TrainedPrompt> {
  const preset = kiopPresets[o.preset];
  const config = kiopConfigSchema.parse({ ...preset, variant: 'kiopB', seed: o.seed });
  const { ctx, dispose } = createKiopContext({
    config,
    host: { dataset: 'mnist', model: o.host, test: o.hostData.test, train: o.hostData.train },
    sources: [{ dataset: 'fashionMnist', model: o.source, test: o.sourceData.test }],
    createGenerator: ({ nz, ngf, imageSize, channels, seed }) => new CmiGenerator({ nz, ngf, imageSize, channels, seed }),
    evalLimit: o.evalLimit,
    evalBatchSize: 100,
    onSynthesisIteration: (_bank, it) => tick(`synthesis iteration ${it + 1}/${config.synthesis.gSteps}`),
  });
  const prompt = ctx.prompt as unknown as SegmentedPrompt;
  const perEpoch = config.synthesis.gSteps * config.synthesis.roundsPerEpoch + config.kdSteps;
  const total = config.epochs * perEpoch;
  let done = 0;
  let epochNow = 0;
  function tick(what: string): void {
    done++;
    o.onProgress?.(Math.min(1, done / total), `epoch ${epochNow + 1}/${config.epochs}: ${what}`);
  }
  const example = transformedImage(o.sourceData.test, 'fashionMnist', 0);
  const example3 = tf.squeeze(example, [0]) as tf.Tensor3D;
  let result: KiopResult;
  try {
    result = await trainKiop(ctx, {
      onStepEnd: (s) => {
        epochNow = s.epoch;
        tick(`knowledge-storing step ${((s.step - 1) % config.kdSteps) + 1}/${config.kdSteps}, loss ${s.loss.toFixed(4)}`);
      },
      onEpochEnd: async (end) => {
        epochNow = end.epoch + 1;
        o.onEpoch?.(end.record, renderPromptPng(prompt, { example: example3, scale: 3 }));
        await new Promise((r) => setTimeout(r, 0)); // let the page repaint
      },
    });
  } catch (e) {
    dispose();
    tf.dispose([example, example3]);
    throw e;
  }
  const fused = new FusedModels(o.host, ctx.prompt, ctx.mappings, config.fidelity);
  const probs = (logits: () => tf.Tensor2D) => tf.tidy(() => Array.from(tf.softmax(logits()).dataSync()));
  return {
    result,
    plain: (x) => probs(() => fused.plainHostLogits(x)),
    prompted: (x) => probs(() => fused.smk(1, x)),
    png: (ex) => renderPromptPng(prompt, { example: ex ?? example3, scale: 3 }),
    dispose() {
      dispose();
      tf.dispose([example, example3]);
    },
  };
}
