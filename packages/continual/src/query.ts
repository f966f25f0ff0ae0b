import * as tf from '@tensorflow/tfjs';
import { stopGradient } from './stop-gradient.js';
import { ShapeError } from '@promptkd/core';
import type { PromptableViT } from './types.js';

/** q(x): `[N, H, W, C]` images → `[N, D_q]` queries (no gradient). */
export type QueryFunction = (x: tf.Tensor4D) => tf.Tensor2D;

/**
 * The shared query function of the CDL setting (spec §2): the [CLS] output after the final LayerNorm of
 * the frozen, student-size pretrained ViT, run WITHOUT prompts and without gradient. Teacher and
 * student use the same one, so both prompt pools have key width D_q = D_student.
 */
export function clsQueryFunction(queryVit: PromptableViT): QueryFunction {
  return (x) =>
    tf.tidy(() => {
      const { tokens } = queryVit.forward(x, { noGrad: true });
      const [n, , d] = tokens.shape;
      return stopGradient(tf.reshape(tf.slice(tokens, [0, 0, 0], [n, 1, d]), [n, d])) as tf.Tensor2D;
    });
}

/** Runs `fn` over `x` in chunks of `batchSize` and concatenates the results (`[N, ...]`). */
export function mapInBatches(fn: (x: tf.Tensor4D) => tf.Tensor, x: tf.Tensor4D, batchSize: number): tf.Tensor {
  const n = x.shape[0];
  const parts: tf.Tensor[] = [];
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    parts.push(
      tf.tidy(() => {
        const xb = tf.slice(x, [start, 0, 0, 0], [size, -1, -1, -1]);
        return fn(xb);
      }),
    );
  }
  const out = parts.length === 1 ? (parts[0] as tf.Tensor) : tf.concat(parts, 0);
  if (parts.length > 1) tf.dispose(parts);
  return out;
}

/** Where the trainer gets q(x) for a batch. */
export interface QuerySource {
  /**
   * Queries of rows `indices` of `images`. `key` identifies the image set (e.g. `train/3`) so a cache
   * can reuse it; `batchX` is the already-gathered batch.
   */
  queries(key: string, images: tf.Tensor4D, indices: Int32Array, batchX: tf.Tensor4D): tf.Tensor2D;
  /** True when queries are cached per image (then batches must not be augmented). */
  readonly cached?: boolean;
  dispose(): void;
}

/**
 * Query source with an optional per-image cache (spec §8.1: exact when there is no augmentation —
 * q(x) of the frozen query ViT never changes). With `cache: false` it computes q on every batch.
 */
export class QueryCache implements QuerySource {
  private readonly tables = new Map<string, tf.Tensor2D>();

  constructor(
    readonly fn: QueryFunction,
    readonly options: { readonly cache: boolean; readonly batchSize?: number } = { cache: true },
  ) {}

  get cached(): boolean {
    return this.options.cache;
  }

  queries(key: string, images: tf.Tensor4D, indices: Int32Array, batchX: tf.Tensor4D): tf.Tensor2D {
    if (!this.options.cache) return this.fn(batchX);
    if (batchX.shape[0] !== indices.length) {
      throw new ShapeError(`Query cache: the batch has ${batchX.shape[0]} images but ${indices.length} row indices.`);
    }
    let table = this.tables.get(key);
    if (!table || table.shape[0] !== images.shape[0]) {
      table?.dispose();
      table = mapInBatches(this.fn, images, this.options.batchSize ?? 64) as tf.Tensor2D;
      this.tables.set(key, table);
    }
    const t = table;
    return tf.tidy(() => tf.gather(t, tf.tensor1d(indices, 'int32')));
  }

  /** Number of cached tables. */
  get size(): number {
    return this.tables.size;
  }

  dispose(): void {
    for (const t of this.tables.values()) t.dispose();
    this.tables.clear();
  }
}
