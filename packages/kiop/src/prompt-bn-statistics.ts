import * as tf from '@tensorflow/tfjs';
import { bnOverrideTensors, bnPopulationStatistics, type BnPopulation } from '@promptkd/models';
import { top1Accuracy } from './evaluate.js';
import type { FusedModels } from './fusion.js';
import type { EvalSet, ImageStream } from './ports.js';

/** Prompt-specific BatchNorm statistics of the prompted host for one source task, and what they serve. */
export interface PromptBnStatistics {
  /** Source k (1: SMB, 2: SMC, ...). */
  readonly source: number;
  /** Population statistics of every host BN layer's input over the prompted images of source k. */
  readonly statistics: BnPopulation;
  /** Where the images came from: `synthetic bank B` (data-free variants) or `real training images` (real-data reference). */
  readonly data: string;
  /** Source-task accuracy (Acc.B for k = 1) with the host in eval mode on these statistics: what a server delivers. */
  readonly accuracy: number;
}

/**
 * Prompt-specific BN statistics (for a prompt trained with the host's BN on batch statistics, `fidelity.hostBnTrainMode`):
 * draws `images` training images of source k from `stream` (the images the prompt trained on: the synthetic bank with
 * its augmentation, or the real images of the real-data reference) in training-size batches, puts them through
 * segments 1..k+1 of the prompt, measures every host BN layer's input statistics in batch-statistics mode
 * ({@link bnPopulationStatistics}), then evaluates SM_k on `test` with the host in eval mode on those statistics. A
 * prompted host that normalises with them gives each image an answer that does not depend on its batch, so the prompt can
 * be served one image at a time.
 */
export async function promptBnStatistics(
  fused: FusedModels,
  k: number,
  stream: ImageStream,
  test: EvalSet,
  options: { images: number; batchSize: number; seed: number; data: string },
): Promise<PromptBnStatistics> {
  stream.reseed?.(options.seed);
  function* canvases(): Generator<tf.Tensor4D> {
    for (let done = 0; done < options.images; done += options.batchSize) {
      const x = stream.next(options.batchSize);
      const canvas = tf.tidy(() => fused.prompt.apply(x, { upTo: k + 1 }));
      x.dispose();
      try {
        yield canvas;
      } finally {
        canvas.dispose();
      }
    }
  }
  const statistics = bnPopulationStatistics(fused.host, canvases());
  const override = bnOverrideTensors(statistics);
  try {
    const accuracy = await top1Accuracy((x) => fused.smkWithStatistics(k, x, override), test);
    return { source: k, statistics, data: options.data, accuracy };
  } finally {
    tf.dispose(Object.values(override).flatMap((s) => [s.mean, s.variance]));
  }
}
