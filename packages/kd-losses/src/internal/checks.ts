import type * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError } from '@promptkd/core';

/** A half-open class-column range `[lo, hi)`: the current task's classes in class-incremental learning. */
export interface ColumnRange {
  /** First class of the range (inclusive). */
  readonly lo: number;
  /** End of the range (exclusive). */
  readonly hi: number;
}

const shapeText = (t: tf.Tensor): string => `[${t.shape.join(', ')}]`;

/** Throws {@link ShapeError} unless `t` has rank `rank` and a non-empty batch (first) axis. */
export function expectRank(t: tf.Tensor, rank: number, what: string): void {
  if (t.rank !== rank) {
    throw new ShapeError(`${what} must have rank ${rank}, got shape ${shapeText(t)}.`, { what, shape: t.shape, rank });
  }
  expectNonEmpty(t, what);
}

/** Throws {@link ShapeError} when `t` has rank < `min` or an empty batch. */
export function expectMinRank(t: tf.Tensor, min: number, what: string): void {
  if (t.rank < min) {
    throw new ShapeError(`${what} must have rank >= ${min}, got shape ${shapeText(t)}.`, { what, shape: t.shape });
  }
  expectNonEmpty(t, what);
}

function expectNonEmpty(t: tf.Tensor, what: string): void {
  if (t.shape.some((d) => d === 0)) {
    throw new ShapeError(
      `${what} is empty (shape ${shapeText(t)}); a loss needs a non-empty batch with at least one class/feature.`,
      { what, shape: t.shape },
    );
  }
}

/** Throws {@link ShapeError} unless `a` and `b` have identical shapes. */
export function expectSameShape(a: tf.Tensor, b: tf.Tensor, whatA: string, whatB: string): void {
  if (a.rank !== b.rank || a.shape.some((d, i) => d !== b.shape[i])) {
    const classes = a.rank === 2 && b.rank === 2 && a.shape[0] === b.shape[0] ? ' (mismatched class counts)' : '';
    throw new ShapeError(
      `${whatA} ${shapeText(a)} and ${whatB} ${shapeText(b)} must have the same shape${classes}.`,
      { shapes: [a.shape, b.shape] },
    );
  }
}

/** Throws {@link ShapeError} unless both tensors have the same batch size (axis 0). */
export function expectSameBatch(a: tf.Tensor, b: tf.Tensor, whatA: string, whatB: string): void {
  if (a.shape[0] !== b.shape[0]) {
    throw new ShapeError(`${whatA} has batch ${a.shape[0]} but ${whatB} has batch ${b.shape[0]}; they must match.`, {
      shapes: [a.shape, b.shape],
    });
  }
}

/** Throws {@link ConfigError} unless `value` is a finite number > 0. */
export function expectPositive(value: number, field: string): void {
  if (!(typeof value === 'number' && Number.isFinite(value) && value > 0)) {
    throw new ConfigError(`${field} must be a finite number > 0, got ${String(value)}.`, { field, value });
  }
}

/** Throws {@link ConfigError} unless `value` is a finite number >= 0. */
export function expectNonNegative(value: number, field: string): void {
  if (!(typeof value === 'number' && Number.isFinite(value) && value >= 0)) {
    throw new ConfigError(`${field} must be a finite number >= 0, got ${String(value)}.`, { field, value });
  }
}

/** Throws {@link ConfigError} unless `value` is in [0, 1]. */
export function expectUnitInterval(value: number, field: string): void {
  if (!(typeof value === 'number' && value >= 0 && value <= 1)) {
    throw new ConfigError(`${field} must be in [0, 1], got ${String(value)}.`, { field, value });
  }
}

/**
 * Resolves the column range for logits with `width` columns (all columns when `range` is undefined) and
 * checks `0 <= lo < hi <= width`.
 */
export function resolveColumns(range: ColumnRange | undefined, width: number, what: string): ColumnRange {
  if (range === undefined) return { lo: 0, hi: width };
  const { lo, hi } = range;
  if (!Number.isInteger(lo) || !Number.isInteger(hi) || lo < 0 || hi <= lo) {
    throw new ConfigError(`columns must be integers with 0 <= lo < hi, got [${lo}, ${hi}).`, { field: 'columns', lo, hi });
  }
  if (hi > width) {
    throw new ShapeError(
      `columns [${lo}, ${hi}) do not fit ${what} with ${width} classes; pass logits with at least ${hi} columns.`,
      { what, lo, hi, width },
    );
  }
  return { lo, hi };
}

/**
 * Checks class labels: int32, rank 1, one per row of `logits`, every value in `[lo, hi)`.
 * Reads the labels from the device (they are small); out-of-range labels would otherwise give a silent zero loss.
 */
export function expectLabels(labels: tf.Tensor, batch: number, range: ColumnRange): void {
  if (labels.rank !== 1 || labels.shape[0] !== batch) {
    throw new ShapeError(`labels must have shape [${batch}] (one per row), got [${labels.shape.join(', ')}].`, {
      shape: labels.shape,
      batch,
    });
  }
  if (labels.dtype !== 'int32') {
    throw new ShapeError(`labels must be int32 class indices, got dtype ${labels.dtype}.`, { dtype: labels.dtype });
  }
  const values = labels.dataSync();
  for (let i = 0; i < values.length; i++) {
    const y = values[i] as number;
    if (y < range.lo || y >= range.hi) {
      throw new ShapeError(
        `label ${y} at row ${i} is outside the distilled classes [${range.lo}, ${range.hi}); ` +
          'labels are global class indices of the current task.',
        { row: i, label: y, lo: range.lo, hi: range.hi },
      );
    }
  }
}
