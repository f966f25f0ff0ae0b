import * as tf from '@tensorflow/tfjs';
import type { ClassifierModel, Synthesizer } from '@promptkd/core';
import type { IterativeLabelMapping } from '@promptkd/label-mapping';
import { bankBatches } from './bank-agreement.js';
import type { Augment, ImageStream } from './ports.js';

/**
 * Data-free iterative label mapping (ILM-VP's frequency mapping, kiop-spec §2.4): puts `n` images of what the prompt
 * trains on — bank k's synthetic images, or the real-data reference's training images — through the prompted host
 * (`hostLogits`: host logits before LM_k) and the source teacher, counts how often source class t (teacher's argmax)
 * lands on host class s, and recomputes π greedily from the counts. Returns how many source classes changed host class.
 */
export function updateIterativeMapping(
  mapping: IterativeLabelMapping,
  images: Synthesizer | ImageStream,
  teacher: ClassifierModel,
  hostLogits: (x: tf.Tensor4D) => tf.Tensor2D,
  augment: Augment | undefined,
  options: { n: number; batchSize: number; seed: number; epoch: number },
): number {
  const host: number[] = [];
  const target: number[] = [];
  for (const x of bankBatches(images, augment, options)) {
    const [s, t] = tf.tidy(() => [tf.argMax(hostLogits(x), 1), tf.argMax(teacher.apply(x, { training: false }).logits, 1)]);
    host.push(...s!.dataSync());
    target.push(...t!.dataSync());
    tf.dispose([s!, t!]);
  }
  const before = [...mapping.mapping];
  const after = mapping.update(host, target, options.epoch).mapping;
  return after.reduce((n, s, j) => n + (s === before[j] ? 0 : 1), 0);
}
