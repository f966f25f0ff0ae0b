import * as tf from '@tensorflow/tfjs';
import { ConfigError } from './errors.js';

/** Rows `[start, start + size)` of a batch. */
export interface RowRange {
  readonly start: number;
  readonly size: number;
}

/** Options of {@link microBatchGradients}. */
export interface MicroBatchOptions {
  /** N — rows of the whole batch. */
  readonly batchSize: number;
  /** Rows per micro-batch (the last one takes the rest). ≥ N computes the batch whole. */
  readonly microBatch: number;
}

/** Loss terms and gradients of a whole batch (the caller disposes every tensor). */
export interface BatchGradients {
  /** Each term of the whole batch, Σ_m (n_m / N)·term(B_m). */
  readonly terms: Record<string, tf.Scalar>;
  /** Σ_terms, the loss whose gradients these are. */
  readonly value: tf.Scalar;
  /** ∂value/∂v by variable name; a variable no micro-batch reaches has no entry. */
  readonly grads: tf.NamedTensorMap;
}

/** The micro-batches of a batch of `batchSize` rows. */
export function microBatches(options: MicroBatchOptions): RowRange[] {
  const { batchSize: n, microBatch: m } = options;
  for (const [field, v] of [['batchSize', n], ['microBatch', m]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`${field} must be a positive integer, got ${v}.`, { field, value: v });
  }
  const out: RowRange[] = [];
  for (let start = 0; start < n; start += m) out.push({ start, size: Math.min(m, n - start) });
  return out;
}

/**
 * Gradients of a batch-mean loss by gradient accumulation over micro-batches, so that a step needs the
 * activations of one micro-batch at a time. When every term is a mean over the batch rows,
 * `L(B) = Σ_m (n_m / N)·L(B_m)` and `∇L(B) = Σ_m (n_m / N)·∇L(B_m)`: the result equals the whole batch's up to
 * float rounding — provided the rows do not interact in the forward pass. Batch statistics do make them interact
 * (train-mode BatchNorm normalises each micro-batch with its own mean and variance, "ghost batch norm"; a loss on
 * batch statistics is not a row mean): there the result is the average of the micro-batches' gradients, not the
 * whole batch's.
 *
 * @param terms the loss terms of rows `rows` of the step's batch, each a mean over those rows; called once per
 *   micro-batch inside `tf.variableGrads` (slice the step's inputs with `rows`).
 * @param vars the variables to differentiate.
 */
export function microBatchGradients(
  terms: (rows: RowRange) => Record<string, tf.Scalar>,
  vars: tf.Variable[],
  options: MicroBatchOptions,
): BatchGradients {
  const n = options.batchSize;
  const sums: Record<string, tf.Scalar> = {};
  const grads: tf.NamedTensorMap = {};
  const accumulate = (into: Record<string, tf.Tensor>, key: string, t: tf.Tensor): void => {
    const prev = into[key];
    into[key] = prev ? tf.add(prev, t) : t;
    if (prev) {
      prev.dispose();
      t.dispose();
    }
  };
  try {
    for (const rows of microBatches(options)) {
      const w = rows.size / n;
      const kept: Record<string, tf.Scalar> = {};
      const { value, grads: g } = tf.variableGrads(() => {
        const t = terms(rows);
        const names = Object.keys(t);
        if (names.length === 0) throw new ConfigError('microBatchGradients: the loss has no terms.', { field: 'terms' });
        for (const k of names) kept[k] = tf.keep(tf.mul(t[k] as tf.Scalar, w));
        return tf.addN(names.map((k) => kept[k] as tf.Scalar)) as tf.Scalar;
      }, vars);
      value.dispose();
      for (const [k, t] of Object.entries(kept)) accumulate(sums, k, t);
      for (const [k, t] of Object.entries(g)) accumulate(grads, k, t);
    }
    const value = tf.tidy(() => tf.addN(Object.values(sums)) as tf.Scalar);
    return { terms: sums, value, grads };
  } catch (err) {
    tf.dispose([...Object.values(sums), ...Object.values(grads)]);
    throw err;
  }
}

/** Rows `rows` of every tensor of `batch` (first axis). */
export function sliceRows<T extends Record<string, tf.Tensor>>(batch: T, rows: RowRange): T {
  const out: Record<string, tf.Tensor> = {};
  for (const [k, t] of Object.entries(batch)) {
    out[k] = rows.start === 0 && rows.size === t.shape[0] ? t.clone() : tf.slice(t, [rows.start], [rows.size]);
  }
  return out as T;
}
