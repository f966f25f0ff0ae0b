import type * as tf from '@tensorflow/tfjs';
import type { ClassifierModel, Resumable, Rng, Synthesizer } from '@promptkd/core';

/**
 * What KiOP needs from its collaborators, stated minimally so trainers can be tested with small fakes.
 * The default implementations come from `@promptkd/visual-prompt`, `@promptkd/data-free` and
 * `@promptkd/datasets` (see `pipeline.ts`).
 */

/** A nested multi-segment prompt (PC, PP, PP2, ...): `apply(x, {upTo: k})` runs segments 1..k. */
export interface NestedPrompt {
  readonly numSegments: number;
  apply(x: tf.Tensor4D, options: { upTo: number }): tf.Tensor4D;
  trainableVariables(): tf.Variable[];
  dispose(): void;
}

/** One labelled batch; the consumer disposes both tensors. */
export interface Batch {
  readonly x: tf.Tensor4D;
  readonly y: tf.Tensor1D;
}

/** A finite evaluation set, iterated in fixed order. */
export type EvalSet = () => Iterable<Batch> | AsyncIterable<Batch>;

/** An endless stream of training images (a real-data loader or a synthetic bank with augmentation). */
export interface ImageStream {
  next(batchSize: number): tf.Tensor4D;
  /** Restarts the stream's randomness from `seed` (called at every epoch start, so a resumed run replays it). */
  reseed?(seed: number): void;
}

/**
 * Optional synthesizer capabilities KiOP uses for exact resume: core's {@link Resumable} (persistent state across
 * rounds: banks, head weights, head optimizer, counters) and a reseed.
 */
export interface ResumableSynthesizer extends Partial<Resumable> {
  /** Restarts all randomness of the next rounds from `seed`. */
  reseed?(seed: number): void;
}

/** Everything needed to build a CMI synthesizer for one (teacher, adversary) pair. */
export interface SynthesizerRequest {
  /** Name of the bank, e.g. `B` (source), `A` (host), `C` (second source). */
  readonly bank: string;
  readonly teacher: ClassifierModel;
  /** The prompted model the synthesizer plays against (SMA/SMB/SMC), x → logits; may be absent. */
  readonly adversary?: (x: tf.Tensor4D) => tf.Tensor2D;
  readonly numClasses: number;
  readonly rng: Rng;
}

/** Creates a synthesizer for a bank. */
export type SynthesizerFactory = (request: SynthesizerRequest) => Synthesizer;

/** Augmentation a bank's consumer applies when sampling (the source's train transform). */
export type Augment = (x: tf.Tensor4D, rng: Rng) => tf.Tensor4D;
