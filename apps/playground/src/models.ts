import * as tf from '@tensorflow/tfjs';
import { BatchLoader, evalBatches, kiopTransform, type ImageDataset } from '@promptkd/datasets';
import { createModel, deserializeModel, evaluate, parseSafetensors, trainClassifier, type FunctionalClassifier } from '@promptkd/models';

/** The small BN CNN of the Node demo's `demo` preset (apps/kiop-bench), and a tinier one for smoke runs. */
export const ARCHS = {
  demo: { blocks: [16, 32, 64] },
  smoke: { blocks: [4, 8] },
} as const;

/** Pretrains a BN CNN in the page (SGD momentum 0.9, cosine; the Node demo's recipe), reporting progress in [0, 1]. */
export async function pretrain(
  dataset: string,
  train: ImageDataset,
  options: { arch: keyof typeof ARCHS; epochs: number; seed: number; onProgress?: (fraction: number, loss: number) => void },
): Promise<FunctionalClassifier> {
  const model = createModel('bnCnn', { ...ARCHS[options.arch], numClasses: train.numClasses, seed: options.seed }) as FunctionalClassifier;
  const batchSize = 64;
  const total = Math.ceil(train.count / batchSize) * options.epochs;
  await trainClassifier(
    model,
    (epoch) => new BatchLoader(train, { batchSize, shuffle: true, seed: options.seed * 1000 + epoch, transform: kiopTransform(dataset, 'train') }),
    {
      optimizer: 'sgd',
      lr: 0.05,
      momentum: 0.9,
      weightDecay: 5e-4,
      epochs: options.epochs,
      cosine: true,
      seed: options.seed,
      onProgress: (p) => options.onProgress?.(Math.min(1, p.step / total), p.loss),
    },
  );
  model.setTrainable(false);
  return model;
}

/**
 * A model from a `.safetensors` file (e.g. one the Node demo cached in `~/.cache/promptkd/models`): the architecture
 * and config come from the file's metadata (`arch`, `config`), the weights are checked as in Node (names, shapes,
 * finite values).
 */
export function modelFromSafetensors(bytes: Uint8Array, file: string): FunctionalClassifier {
  const parsed = parseSafetensors(bytes, file);
  const arch = parsed.metadata.arch;
  if (!arch) throw new Error(`${file} has no 'arch' in its metadata: it was not saved by promptkd's saveModelWeights.`);
  const config = JSON.parse(parsed.metadata.config ?? '{}') as object;
  const model = createModel(arch, config) as FunctionalClassifier;
  try {
    deserializeModel(model, parsed, { file });
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.setTrainable(false);
  return model;
}

/** Top-1 accuracy on a test split with the dataset's KiOP test transform. */
export async function accuracy(model: FunctionalClassifier, dataset: string, test: ImageDataset): Promise<number> {
  return (await evaluate(model, evalBatches(test, { batchSize: 128, transform: kiopTransform(dataset, 'test') }))).accuracy;
}

/** Frees what a model holds. */
export function disposeModel(model: FunctionalClassifier | undefined): void {
  model?.dispose();
  void tf.memory();
}
