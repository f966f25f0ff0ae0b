import { ShapeError } from '@promptkd/core';

/**
 * Accuracy matrix of a class-incremental run: `a[i][j]` = accuracy (0..1 or %) on task j's test set
 * after learning task i (j ≤ i; a lower-triangular ragged array).
 */
export type AccuracyMatrix = readonly (readonly number[])[];

function check(a: AccuracyMatrix): number {
  const n = a.length;
  if (n === 0) throw new ShapeError('The accuracy matrix is empty; evaluate after at least one task.');
  a.forEach((row, i) => {
    if (row.length < i + 1) throw new ShapeError(`Accuracy row ${i} has ${row.length} entries; it needs ${i + 1} (tasks 0..${i}).`);
  });
  return n;
}

/** A_N = mean over tasks j of a[N−1][j] (final average accuracy). */
export function finalAverageAccuracy(a: AccuracyMatrix): number {
  const n = check(a);
  const last = a[n - 1] as readonly number[];
  let s = 0;
  for (let j = 0; j < n; j++) s += last[j] as number;
  return s / n;
}

/** Average accuracy after each task i: mean_j≤i a[i][j]. */
export function averageAccuracyPerTask(a: AccuracyMatrix): number[] {
  check(a);
  return a.map((row, i) => row.slice(0, i + 1).reduce((x, y) => x + y, 0) / (i + 1));
}

/**
 * Forgetting as the CDL code computes it (spec §2, §9.7): F = (1/N)·Σ_{i} (a[i][i] − a[N−1][i]) —
 * "just-learned" accuracy minus final accuracy, divided by N (the last task contributes 0).
 */
export function forgettingAsCode(a: AccuracyMatrix): number {
  const n = check(a);
  const last = a[n - 1] as readonly number[];
  let s = 0;
  for (let i = 0; i < n; i++) s += ((a[i] as readonly number[])[i] as number) - (last[i] as number);
  return s / n;
}

/**
 * Standard average forgetting (Chaudhry et al., 2018): F = 1/(N−1)·Σ_{j<N−1} max_{i<N−1} a[i][j] − a[N−1][j].
 * 0 for a single task.
 */
export function forgettingStandard(a: AccuracyMatrix): number {
  const n = check(a);
  if (n === 1) return 0;
  const last = a[n - 1] as readonly number[];
  let s = 0;
  for (let j = 0; j < n - 1; j++) {
    let best = -Infinity;
    for (let i = j; i < n - 1; i++) best = Math.max(best, (a[i] as readonly number[])[j] as number);
    s += best - (last[j] as number);
  }
  return s / (n - 1);
}

/** All summary metrics of one run. */
export interface ClSummary {
  readonly finalAccuracy: number;
  readonly forgetting: number;
  readonly forgettingStandard: number;
  readonly averageAccuracyPerTask: number[];
}

/** {@link finalAverageAccuracy}, {@link forgettingAsCode} (the reported one), {@link forgettingStandard}. */
export function summarize(a: AccuracyMatrix): ClSummary {
  return {
    finalAccuracy: finalAverageAccuracy(a),
    forgetting: forgettingAsCode(a),
    forgettingStandard: forgettingStandard(a),
    averageAccuracyPerTask: averageAccuracyPerTask(a),
  };
}
