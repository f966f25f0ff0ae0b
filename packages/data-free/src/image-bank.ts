import * as tf from '@tensorflow/tfjs';
import { ConfigError, Rng, ShapeError, type RngState } from '@promptkd/core';

/** Options of {@link ImageBank}. */
export interface ImageBankOptions {
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  /**
   * Optional persistence of the bank (e.g. `ImageBankFolder` of `@promptkd/data-free/node`: a folder inside a run
   * folder). Without one the bank lives in memory only.
   */
  readonly store?: ImageBankStore;
  /** Re-open what `store` holds (checkpoint resume) instead of requiring it to be empty. */
  readonly resume?: boolean;
  /** Seeds the bank's own sampling order (used when {@link ImageBank.sample} gets no rng). */
  readonly seed?: number;
}

/** Image size of a bank, as stored with it. */
export interface ImageBankShape {
  readonly height: number;
  readonly width: number;
  readonly channels: number;
}

/**
 * Where an {@link ImageBank} persists its images. `open` is called once by the bank's constructor; `append` after
 * every added batch (the bank's in-memory copy is authoritative while it runs).
 */
export interface ImageBankStore {
  /** Human-readable location for messages. */
  readonly where: string;
  /**
   * Prepares the store for a bank of `shape` images. With `resume`, returns what it holds (uint8 NHWC pixels and one
   * label per image; nothing if it is empty); without, it must be empty and throws a ConfigError otherwise.
   */
  open(shape: ImageBankShape, resume: boolean): { pixels: Uint8Array; labels: number[] } | undefined;
  /** Persists `labels.length` more images (`pixels`: uint8 NHWC); `count` is the bank's new size. */
  append(pixels: Uint8Array, labels: readonly number[], count: number): void;
}

/**
 * Quantises images in [0,1] to uint8 exactly like the reference's PNG bank: `uint8(clamp(x, 0, 1)·255)`,
 * i.e. truncation, not rounding.
 */
export function quantizeToUint8(values: ArrayLike<number>): Uint8Array {
  const out = new Uint8Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i] as number;
    out[i] = v >= 1 ? 255 : v > 0 ? Math.floor(v * 255) : 0; // NaN → 0
  }
  return out;
}

/**
 * The synthetic data bank: every kept batch, stored as uint8 NHWC in memory (optionally persisted), sampled
 * by a shuffled cycling sampler over the whole bank (the reference rebuilds a shuffled DataLoader over all
 * rounds after each round). The consumer applies its own augmentation to the sampled batch.
 */
export class ImageBank {
  readonly height: number;
  readonly width: number;
  readonly channels: number;
  readonly store: ImageBankStore | undefined;
  private chunks: Uint8Array[] = [];
  private labelList: number[] = [];
  private count = 0;
  private order: number[] = [];
  private cursor = 0;
  private rng: Rng;

  constructor(options: ImageBankOptions) {
    for (const f of ['height', 'width', 'channels'] as const) {
      const v = options[f];
      if (!Number.isInteger(v) || v < 1) {
        throw new ConfigError(`Image bank ${f} must be a positive integer, got ${v}.`, { field: f });
      }
    }
    this.height = options.height;
    this.width = options.width;
    this.channels = options.channels;
    this.store = options.store;
    this.rng = Rng.fromSeed(options.seed ?? 0);
    const held = this.store?.open({ height: this.height, width: this.width, channels: this.channels }, options.resume ?? false);
    if (held && held.labels.length > 0) {
      this.chunks = [held.pixels];
      this.labelList = [...held.labels];
      this.count = held.labels.length;
    }
  }

  /** Values per image (H·W·C). */
  get imageSize(): number {
    return this.height * this.width * this.channels;
  }

  /** Number of images in the bank. */
  get size(): number {
    return this.count;
  }

  /**
   * Appends a batch [N, H, W, C] in [0,1] (quantised to uint8); persists it when the bank has a folder.
   * @param labels — the class each image was synthesised for (the round's targets y); kept for analysis only
   *   (KD uses the teacher's soft outputs). Use -1 for unknown.
   */
  add(images: tf.Tensor4D, labels?: readonly number[]): void {
    const [, h, w, c] = images.shape;
    if (h !== this.height || w !== this.width || c !== this.channels) {
      throw new ShapeError(
        `Image bank holds ${this.height}×${this.width}×${this.channels} images, got ${h}×${w}×${c}.`,
        { expected: [this.height, this.width, this.channels], got: [h, w, c] },
      );
    }
    this.addUint8(quantizeToUint8(images.dataSync()), labels);
  }

  /** The synthesised-for class of every image (−1 where unknown), in bank order. */
  get labels(): readonly number[] {
    return this.labelList;
  }

  /** Appends already-quantised NHWC bytes (a whole number of images). */
  addUint8(bytes: Uint8Array, labels?: readonly number[]): void {
    if (bytes.length % this.imageSize !== 0) {
      throw new ShapeError(`Image bank: ${bytes.length} bytes are not a whole number of ${this.imageSize}-byte images.`, {
        bytes: bytes.length,
      });
    }
    const n = bytes.length / this.imageSize;
    if (labels !== undefined && labels.length !== n) {
      throw new ShapeError(`Image bank: ${labels.length} labels for ${n} images.`, { labels: labels.length, images: n });
    }
    const lab = labels ? [...labels] : new Array<number>(n).fill(-1);
    this.store?.append(bytes, lab, this.count + n);
    this.chunks.push(bytes);
    this.labelList.push(...lab);
    this.count += n;
    this.order = []; // rebuild the shuffled sampler over the whole bank
    this.cursor = 0;
  }

  /** All images as one uint8 NHWC array (copy). */
  toUint8(): Uint8Array {
    const out = new Uint8Array(this.count * this.imageSize);
    let off = 0;
    for (const c of this.chunks) {
      out.set(c, off);
      off += c.length;
    }
    return out;
  }

  /** Images at the given indices as float32 NHWC in [0,1] (x/255). */
  get(indices: readonly number[]): tf.Tensor4D {
    this.compact();
    const all = this.chunks[0] ?? new Uint8Array(0);
    const size = this.imageSize;
    const out = new Float32Array(indices.length * size);
    indices.forEach((idx, i) => {
      if (!Number.isInteger(idx) || idx < 0 || idx >= this.count) {
        throw new ShapeError(`Image bank index ${idx} is out of range [0, ${this.count}).`, { index: idx });
      }
      const src = all.subarray(idx * size, (idx + 1) * size);
      for (let k = 0; k < size; k++) out[i * size + k] = (src[k] as number) / 255;
    });
    return tf.tensor4d(out, [indices.length, this.height, this.width, this.channels]);
  }

  /**
   * n images from a shuffled pass over the whole bank, cycling (reshuffled when a pass is exhausted).
   * @param rng — shuffling stream; defaults to the bank's own seeded stream.
   */
  sample(n: number, rng?: Rng): tf.Tensor4D {
    this.checkDraw(n, 'sample');
    const r = rng ?? this.rng;
    const picked: number[] = [];
    while (picked.length < n) {
      if (this.cursor >= this.order.length) {
        this.order = r.permutation(this.count);
        this.cursor = 0;
      }
      picked.push(this.order[this.cursor++] as number);
    }
    return this.get(picked);
  }

  /**
   * n images picked by `rng` alone, without repeats until the bank is exhausted (then from a fresh permutation):
   * a draw for diagnostics that leaves the pass and position {@link ImageBank.sample} follows as they are, so
   * looking at the bank does not change what training reads next.
   */
  draw(n: number, rng: Rng): tf.Tensor4D {
    this.checkDraw(n, 'draw');
    const picked: number[] = [];
    while (picked.length < n) picked.push(...rng.permutation(this.count).slice(0, n - picked.length));
    return this.get(picked);
  }

  /** Everything needed to continue sampling exactly: images, labels, the current pass and its position. */
  exportState(): { pixels: Uint8Array; labels: number[]; order: number[]; cursor: number; rng: RngState } {
    return { pixels: this.toUint8(), labels: [...this.labelList], order: [...this.order], cursor: this.cursor, rng: this.rng.getState() };
  }

  /** Replaces the in-memory contents with {@link ImageBank.exportState}'s (a store is not rewritten). */
  importState(state: { pixels: Uint8Array; labels: readonly number[]; order: readonly number[]; cursor: number; rng: RngState }): void {
    if (state.pixels.length % this.imageSize !== 0 || state.pixels.length / this.imageSize !== state.labels.length) {
      throw new ShapeError(
        `Image bank state: ${state.pixels.length} bytes and ${state.labels.length} labels do not describe ${this.height}×${this.width}×${this.channels} images.`,
        { bytes: state.pixels.length, labels: state.labels.length },
      );
    }
    this.chunks = state.pixels.length ? [state.pixels.slice()] : [];
    this.labelList = [...state.labels];
    this.count = state.labels.length;
    this.order = [...state.order];
    this.cursor = state.cursor;
    this.rng = Rng.fromState(state.rng);
  }

  private checkDraw(n: number, method: string): void {
    if (this.count === 0) {
      throw new ConfigError('The image bank is empty: run at least one synthesis round before sampling.', {
        field: 'bank',
      });
    }
    if (!Number.isInteger(n) || n < 1) throw new ConfigError(`${method}(n): n must be a positive integer, got ${n}.`, { field: 'n' });
  }

  private compact(): void {
    if (this.chunks.length > 1) this.chunks = [this.toUint8()];
  }
}
