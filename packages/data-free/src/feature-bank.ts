import type * as tf from '@tensorflow/tfjs';
import { ConfigError, type Rng, ShapeError } from '@promptkd/core';

/** Options of {@link FeatureBank}. */
export interface FeatureBankOptions {
  /** Ring-buffer capacity in rows (CMI `bank_size`, reference 40 960). Must be divisible by every batch added. */
  readonly capacity: number;
  /** Row width: 2·D (local and global instance-mean features side by side). */
  readonly dim: number;
}

/**
 * CMI's feature memory bank: a ring buffer of `[local | global]` feature rows kept in host (JS) memory.
 * Rows are allocated when first written (memory grows with use instead of pre-allocating capacity × dim floats),
 * and {@link FeatureBank.sample} draws only from rows written so far (all rows once the buffer wrapped).
 */
export class FeatureBank {
  readonly capacity: number;
  readonly dim: number;
  private readonly rows: (Float32Array | undefined)[];
  private ptr = 0;
  private updates = 0;

  constructor(options: FeatureBankOptions) {
    if (!Number.isInteger(options.capacity) || options.capacity < 1) {
      throw new ConfigError(`Feature bank capacity must be a positive integer, got ${options.capacity}.`, {
        field: 'bankCapacity',
      });
    }
    if (!Number.isInteger(options.dim) || options.dim < 1) {
      throw new ConfigError(`Feature bank row width must be a positive integer, got ${options.dim}.`, { field: 'dim' });
    }
    this.capacity = options.capacity;
    this.dim = options.dim;
    this.rows = new Array<Float32Array | undefined>(options.capacity);
  }

  /** Number of readable rows: min(rows ever added, capacity). */
  get size(): number {
    return Math.min(this.updates, this.capacity);
  }

  /** Total rows ever added. */
  get totalAdded(): number {
    return this.updates;
  }

  /**
   * Appends n rows at the write pointer (wrapping). Like the reference, `capacity` must be divisible by n,
   * so a batch never straddles the end of the buffer.
   */
  add(features: tf.Tensor2D | Float32Array, n?: number): void {
    let data: Float32Array;
    let rows: number;
    if (features instanceof Float32Array) {
      rows = n ?? features.length / this.dim;
      data = features;
    } else {
      if (features.shape[1] !== this.dim) {
        throw new ShapeError(`Feature bank rows have ${this.dim} values, got ${features.shape[1]}.`, {
          expected: this.dim,
          got: features.shape[1],
        });
      }
      rows = features.shape[0];
      data = features.dataSync() as Float32Array;
    }
    if (!Number.isInteger(rows) || rows * this.dim !== data.length || rows < 1) {
      throw new ShapeError(`Feature bank: ${data.length} values are not ${rows} rows of ${this.dim}.`, {
        values: data.length,
        dim: this.dim,
      });
    }
    if (this.capacity % rows !== 0) {
      throw new ConfigError(
        `Feature bank capacity ${this.capacity} is not divisible by the batch of ${rows} rows. ` +
          'Choose a bank capacity that is a multiple of the synthesis batch size.',
        { field: 'bankCapacity', capacity: this.capacity, batch: rows },
      );
    }
    const block = new Float32Array(data); // own copy
    for (let i = 0; i < rows; i++) {
      this.rows[this.ptr + i] = block.subarray(i * this.dim, (i + 1) * this.dim);
    }
    this.ptr = (this.ptr + rows) % this.capacity;
    this.updates += rows;
  }

  /** The written rows (in ring order, [size, dim]) and the ring pointer, for checkpoints. */
  exportState(): { rows: Float32Array; ptr: number; updates: number } {
    const n = this.size;
    const out = new Float32Array(n * this.dim);
    for (let r = 0; r < n; r++) out.set(this.rows[r] as Float32Array, r * this.dim);
    return { rows: out, ptr: this.ptr, updates: this.updates };
  }

  /** Restores {@link FeatureBank.exportState}'s contents. */
  importState(state: { rows: Float32Array; ptr: number; updates: number }): void {
    const n = Math.min(state.updates, this.capacity);
    if (state.rows.length !== n * this.dim || !Number.isInteger(state.ptr) || state.ptr < 0 || state.ptr >= this.capacity) {
      throw new ShapeError(`Feature bank state does not fit a bank of ${this.capacity} rows of ${this.dim}.`, {
        values: state.rows.length,
        ptr: state.ptr,
      });
    }
    this.rows.fill(undefined);
    const block = new Float32Array(state.rows);
    for (let r = 0; r < n; r++) this.rows[r] = block.subarray(r * this.dim, (r + 1) * this.dim);
    this.ptr = state.ptr;
    this.updates = state.updates;
  }

  /**
   * Up to k rows drawn without replacement from the written rows (k is capped at {@link size}).
   * Returns the rows packed as a [k', dim] Float32Array and their ring indices.
   */
  sample(k: number, rng: Rng): { data: Float32Array; indices: number[] } {
    const available = this.size;
    const count = Math.max(0, Math.min(k, available));
    const pool = Array.from({ length: available }, (_, i) => i);
    for (let i = 0; i < count; i++) {
      const j = rng.int(i, available - 1);
      const t = pool[i] as number;
      pool[i] = pool[j] as number;
      pool[j] = t;
    }
    const indices = pool.slice(0, count);
    const data = new Float32Array(count * this.dim);
    indices.forEach((r, i) => {
      const row = this.rows[r];
      if (!row) throw new Error(`internal: feature bank row ${r} read before it was written`);
      data.set(row, i * this.dim);
    });
    return { data, indices };
  }
}
