import { ConfigError, Rng } from '@promptkd/core';
import { filterClasses, type DatasetSplits, type ImageDataset } from '../image-dataset.js';

/** One task of a class-incremental stream. */
export interface IncrementalTask {
  /** Task index t (0-based). */
  readonly task: number;
  /** Original dataset labels of this task's classes, in stream order. */
  readonly classes: readonly number[];
  /** The task's classes are the stream labels [lo, hi). */
  readonly lo: number;
  readonly hi: number;
  /** Training images of this task only, labels remapped to stream labels (in [lo, hi)). */
  readonly train: ImageDataset;
  /** Test images of this task only, stream labels. */
  readonly test: ImageDataset;
}

/** A class-incremental split. */
export interface ClassIncrementalSplit {
  /** `classOrder[s]` is the original label of stream label s. */
  readonly classOrder: readonly number[];
  readonly tasks: readonly IncrementalTask[];
  /** Test images of tasks 0..t (all seen classes), stream labels: the evaluation set after task t. */
  seenTest(t: number): ImageDataset;
}

/** Options of {@link classIncrementalSplit}. */
export interface ClassIncrementalOptions {
  /** Number of tasks N; must divide the number of classes used. */
  readonly tasks: number;
  /** `'natural'` (label order, the KDP/CODA protocol) or an integer seed for a shuffled class order. */
  readonly order?: 'natural' | number;
  /** Use only these original classes (in this order before any shuffle); default all. */
  readonly classes?: readonly number[];
}

/**
 * Splits a train/test pair into N tasks with disjoint classes (rehearsal-free class-incremental learning).
 * Labels are remapped to stream order: task t holds stream labels [t·K/N, (t+1)·K/N). Test sets per task
 * hold only that task's classes; `seenTest(t)` gives the union over tasks 0..t.
 */
export function classIncrementalSplit(data: DatasetSplits, options: ClassIncrementalOptions): ClassIncrementalSplit {
  const { train, test } = data;
  if (train.numClasses !== test.numClasses) {
    throw new ConfigError(`train has ${train.numClasses} classes, test ${test.numClasses}.`, { field: 'data' });
  }
  const base = options.classes ? [...options.classes] : Array.from({ length: train.numClasses }, (_, i) => i);
  const order = options.order ?? 'natural';
  if (order !== 'natural' && !Number.isInteger(order)) {
    throw new ConfigError(`order must be 'natural' or an integer seed, got ${String(order)}.`, { field: 'order' });
  }
  const classOrder = order === 'natural' ? base : Rng.fromSeed(order).shuffle(base);
  const n = options.tasks;
  if (!Number.isInteger(n) || n <= 0 || classOrder.length % n !== 0) {
    throw new ConfigError(`tasks = ${n} must be a positive integer dividing the ${classOrder.length} classes.`, { field: 'tasks' });
  }
  // Relabel once to stream order, then cut contiguous label ranges.
  const streamTrain = filterClasses(train, classOrder, { name: `${train.name}/stream` });
  const streamTest = filterClasses(test, classOrder, { name: `${test.name}/stream` });
  const per = classOrder.length / n;
  const range = (lo: number, hi: number) => Array.from({ length: hi - lo }, (_, i) => lo + i);
  const keepRange = (ds: ImageDataset, lo: number, hi: number, name: string): ImageDataset => {
    const f = filterClasses(ds, range(lo, hi), { relabel: false, name });
    return f;
  };
  const tasks = Array.from({ length: n }, (_, t) => {
    const lo = t * per;
    const hi = lo + per;
    return {
      task: t,
      classes: classOrder.slice(lo, hi),
      lo,
      hi,
      train: keepRange(streamTrain, lo, hi, `${train.name}/task${t}`),
      test: keepRange(streamTest, lo, hi, `${test.name}/task${t}`),
    };
  });
  return {
    classOrder,
    tasks,
    seenTest(t: number) {
      if (!Number.isInteger(t) || t < 0 || t >= n) throw new ConfigError(`seenTest: task ${t} is outside [0, ${n}).`, { field: 'task' });
      return keepRange(streamTest, 0, (t + 1) * per, `${test.name}/seen0-${t}`);
    },
  };
}
