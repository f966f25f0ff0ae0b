import * as tf from '@tensorflow/tfjs';
import { ConfigError, Rng, type RngState } from '@promptkd/core';
import type { ImageDataset } from '../image-dataset.js';
import type { Transform } from '../transforms/transform.js';
import { toTensors } from './to-tensor.js';

/** Options of {@link BatchLoader} / {@link batches}. */
export interface BatchOptions {
  /** Images per batch (B). */
  readonly batchSize: number;
  /** Reshuffle every epoch (default true). */
  readonly shuffle?: boolean;
  /** Seed of the order and augmentation streams (default 0). */
  readonly seed?: number;
  /** Drop the last incomplete batch of each epoch (default false; the KDP/CODA training loaders drop it). */
  readonly dropLast?: boolean;
  /** Start a new epoch instead of stopping at the end of the data (default false). */
  readonly cycle?: boolean;
  /** Applied to each float [0,1] batch inside `tf.tidy` with the loader's augmentation RNG. */
  readonly transform?: Transform;
  /** Resume from {@link BatchLoader.state}: the next batch is the one that followed when the state was taken. */
  readonly state?: LoaderState;
}

/** One batch; the caller disposes `x` and `y`. */
export interface Batch {
  /** [B, H, W, C] float32, in [0, 1] unless the transform normalises. */
  readonly x: tf.Tensor4D;
  /** [B] int32 labels. */
  readonly y: tf.Tensor1D;
  /** Dataset indices of the batch's images (e.g. to look up cached teacher logits). */
  readonly indices: Int32Array;
  /** Epoch the batch belongs to (0-based). */
  readonly epoch: number;
}

/** Serialisable loader position: store it in a checkpoint, pass it back as `options.state` to resume. */
export interface LoaderState {
  readonly epoch: number;
  /** Index into the epoch's order of the next batch's first image. */
  readonly position: number;
  /** Order RNG state at the start of `epoch` (before its permutation was drawn). */
  readonly orderRng: RngState;
  /** Augmentation RNG state before the next batch. */
  readonly augmentRng: RngState;
}

/**
 * A seeded, resumable mini-batch loader over an {@link ImageDataset}. Same seed ⇒ same batches;
 * `state()` after k batches + a new loader with `{state}` ⇒ the same batch k+1, k+2, ... as the original.
 */
export class BatchLoader implements Iterable<Batch> {
  private readonly ds: ImageDataset;
  private readonly batchSize: number;
  private readonly shuffle: boolean;
  private readonly dropLast: boolean;
  private readonly cycle: boolean;
  private readonly transform: Transform | undefined;
  private orderRng: Rng;
  private augmentRng: Rng;
  private epochStart: RngState;
  private order: Int32Array;
  private epochIndex: number;
  private position: number;

  constructor(ds: ImageDataset, options: BatchOptions) {
    const { batchSize } = options;
    if (!Number.isInteger(batchSize) || batchSize <= 0) {
      throw new ConfigError(`batchSize must be a positive integer, got ${batchSize}.`, { field: 'batchSize' });
    }
    this.ds = ds;
    this.batchSize = batchSize;
    this.shuffle = options.shuffle ?? true;
    this.dropLast = options.dropLast ?? false;
    this.cycle = options.cycle ?? false;
    this.transform = options.transform;
    if (this.cycle && (ds.count === 0 || (this.dropLast && ds.count < batchSize))) {
      throw new ConfigError(
        `Cannot cycle over '${ds.name}': ${ds.count} images give no full batch of ${batchSize}${this.dropLast ? ' with dropLast' : ''}.`,
        { field: 'batchSize' },
      );
    }
    if (options.state) {
      const s = options.state;
      if (!Number.isInteger(s.epoch) || s.epoch < 0 || !Number.isInteger(s.position) || s.position < 0 || s.position > ds.count) {
        throw new ConfigError(`Invalid loader state (epoch ${s.epoch}, position ${s.position}) for ${ds.count} images.`, { field: 'state' });
      }
      this.orderRng = Rng.fromState(s.orderRng);
      this.augmentRng = Rng.fromState(s.augmentRng);
      this.epochIndex = s.epoch;
      this.position = s.position;
    } else {
      const root = Rng.fromSeed(options.seed ?? 0);
      this.orderRng = root.fork();
      this.augmentRng = root.fork();
      this.epochIndex = 0;
      this.position = 0;
    }
    this.epochStart = this.orderRng.getState();
    this.order = this.drawOrder();
  }

  private drawOrder(): Int32Array {
    const n = this.ds.count;
    if (!this.shuffle) return Int32Array.from({ length: n }, (_, i) => i);
    return Int32Array.from(this.orderRng.permutation(n));
  }

  private epochDone(): boolean {
    const left = this.ds.count - this.position;
    return left <= 0 || (this.dropLast && left < this.batchSize);
  }

  /** Batches per epoch. */
  get batchesPerEpoch(): number {
    return this.dropLast ? Math.floor(this.ds.count / this.batchSize) : Math.ceil(this.ds.count / this.batchSize);
  }

  /** Current epoch (0-based). */
  get epoch(): number {
    return this.epochIndex;
  }

  /** The position to resume from (see {@link LoaderState}). */
  state(): LoaderState {
    return { epoch: this.epochIndex, position: this.position, orderRng: this.epochStart, augmentRng: this.augmentRng.getState() };
  }

  /** Indices of the next batch without building tensors (advances the loader); undefined at the end. */
  nextIndices(): { indices: Int32Array; epoch: number } | undefined {
    if (this.epochDone()) {
      if (!this.cycle) return undefined;
      this.epochIndex += 1;
      this.position = 0;
      this.epochStart = this.orderRng.getState();
      this.order = this.drawOrder();
    }
    const end = Math.min(this.position + this.batchSize, this.ds.count);
    const indices = this.order.slice(this.position, end);
    this.position = end;
    return { indices, epoch: this.epochIndex };
  }

  /** The next batch (tensors owned by the caller), or undefined when a non-cycling loader is exhausted. */
  next(): Batch | undefined {
    const step = this.nextIndices();
    if (!step) return undefined;
    const { transform } = this;
    const rng = this.augmentRng;
    const { x, y } = tf.tidy(() => {
      const t = toTensors(this.ds, step.indices);
      return transform ? { x: transform(t.x, rng), y: t.y } : t;
    });
    return { x, y, indices: step.indices, epoch: step.epoch };
  }

  *[Symbol.iterator](): Iterator<Batch> {
    for (;;) {
      const b = this.next();
      if (!b) return;
      yield b;
    }
  }
}

/** Iterates seeded mini-batches (see {@link BatchLoader}); the caller disposes each batch's `x` and `y`. */
export function batches(ds: ImageDataset, options: BatchOptions): Iterable<Batch> {
  return new BatchLoader(ds, options);
}

/**
 * Fixed-order evaluation batches: dataset order, no shuffle, no drop, one pass. `transform` must be
 * deterministic (resize, grey→RGB, normalise); it receives an RNG seeded with 0.
 */
export function evalBatches(ds: ImageDataset, options: { batchSize: number; transform?: Transform }): Iterable<Batch> {
  return new BatchLoader(ds, { ...options, shuffle: false, dropLast: false, cycle: false, seed: 0 });
}
