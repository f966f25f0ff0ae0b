import * as tf from '@tensorflow/tfjs';
import { gatherRows, type ClassIncrementalTask, type QuerySource } from '@promptkd/continual';

/**
 * Scores of one or more prediction heads for a batch: `[N, hi]` per head name over the seen classes [0, hi).
 * `prediction` is the model's reported prediction; token methods add `g` (class head alone) and `k` (KD head
 * alone).
 */
export type HeadScores = (x: tf.Tensor4D, query: tf.Tensor2D, hi: number) => Readonly<Record<string, tf.Tensor2D>>;

/** Accuracies of every head after learning task t. */
export interface HeadAccuracies {
  /** Per head: accuracy (0..1) on the test set of each task 0..t, argmax over all seen classes [0, hi_t). */
  readonly seen: Record<string, number[]>;
  /**
   * Per head: accuracy on the just-learned task t's test set with the argmax restricted to task t's own classes
   * [lo_t, hi_t) — what the task's training signal (CE, or KD on the current-task columns) can teach, without
   * the competition of older classes.
   */
  readonly withinTask: Record<string, number>;
}

/**
 * Evaluates all heads of a model after task t in one pass per test batch: seen-class accuracy on every seen
 * task, and within-task accuracy on the just-learned task (kdp-spec §2 metrics; the per-head split traces a
 * deficit of the averaged prediction to g, k or forgetting).
 */
export function evaluateHeads(scores: HeadScores, tasks: readonly ClassIncrementalTask[], t: number, queries: QuerySource, batchSize = 128): HeadAccuracies {
  const current = tasks[t] as ClassIncrementalTask;
  const hi = current.hi;
  const seen: Record<string, number[]> = {};
  const withinTask: Record<string, number> = {};
  const count = (pred: tf.Tensor1D, task: ClassIncrementalTask, indices: Int32Array) => {
    const values = pred.dataSync();
    return indices.reduce((c, row, i) => c + Number(values[i] === task.test.y[row]), 0);
  };
  tasks.slice(0, t + 1).forEach((task, j) => {
    const n = task.test.x.shape[0];
    const correct: Record<string, number> = {};
    const correctWithin: Record<string, number> = {};
    for (let start = 0; start < n; start += batchSize) {
      const indices = Int32Array.from({ length: Math.min(batchSize, n - start) }, (_, i) => start + i);
      const { x, y } = gatherRows(task.test, indices);
      const q = queries.queries(`test/${task.task}`, task.test.x, indices, x);
      const preds = tf.tidy(() =>
        Object.entries(scores(x, q, hi)).map(([name, s]) => ({
          name,
          seen: tf.argMax(s, 1) as tf.Tensor1D,
          // j === t: argmax over the task's own columns, shifted back to global class ids
          within: j === t ? (tf.add(tf.argMax(tf.slice(s, [0, task.lo], [s.shape[0], task.hi - task.lo]), 1), task.lo) as tf.Tensor1D) : undefined,
        })),
      );
      for (const p of preds) {
        correct[p.name] = (correct[p.name] ?? 0) + count(p.seen, task, indices);
        if (p.within) correctWithin[p.name] = (correctWithin[p.name] ?? 0) + count(p.within, task, indices);
      }
      tf.dispose([x, y, q, ...preds.flatMap((p) => (p.within ? [p.seen, p.within] : [p.seen]))]);
    }
    for (const [name, c] of Object.entries(correct)) (seen[name] ??= []).push(n === 0 ? 0 : c / n);
    if (j === t) for (const [name, c] of Object.entries(correctWithin)) withinTask[name] = n === 0 ? 0 : c / n;
  });
  return { seen, withinTask };
}

/** Per-task head accuracies of a run, accumulated task by task (the `prediction` head is the run's accuracy matrix). */
export interface HeadHistory {
  /** a[i][j] of the reported prediction (seen classes). */
  readonly accuracy: number[][];
  /** The same matrix for each head alone besides `prediction` (token methods: `g`, `k`). */
  readonly heads: Record<string, number[][]>;
  /** Per head (incl. `prediction`): within-task accuracy on the just-learned task, one entry per task. */
  readonly withinTask: Record<string, number[]>;
}

/** An empty {@link HeadHistory}, or a copy of a saved one (resume). */
export function headHistory(from?: { accuracy: readonly (readonly number[])[]; heads?: Readonly<Record<string, readonly (readonly number[])[]>>; withinTask?: Readonly<Record<string, readonly number[]>> }): HeadHistory {
  const copy = <T>(m: Readonly<Record<string, readonly T[]>> | undefined, f: (v: T) => T) =>
    Object.fromEntries(Object.entries(m ?? {}).map(([k, v]) => [k, v.map(f)]));
  return {
    accuracy: (from?.accuracy ?? []).map((r) => [...r]),
    heads: copy(from?.heads, (r: readonly number[]) => [...r]) as Record<string, number[][]>,
    withinTask: copy(from?.withinTask, (v: number) => v) as Record<string, number[]>,
  };
}

/** Appends one task's {@link HeadAccuracies} to a history; returns the prediction's row. */
export function recordHeads(history: HeadHistory, acc: HeadAccuracies): number[] {
  const row = acc.seen.prediction ?? [];
  history.accuracy.push(row);
  for (const [name, r] of Object.entries(acc.seen)) if (name !== 'prediction') (history.heads[name] ??= []).push(r);
  for (const [name, v] of Object.entries(acc.withinTask)) (history.withinTask[name] ??= []).push(v);
  return row;
}
