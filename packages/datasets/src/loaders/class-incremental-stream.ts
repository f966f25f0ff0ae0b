import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '@promptkd/core';
import { takePerClass, type DatasetSplits, type ImageDataset } from '../image-dataset.js';
import { classIncrementalSplit } from './class-incremental.js';
import { toTensorsAt, type TensorImages } from './to-tensors-at.js';

/**
 * One task of a {@link ClassIncrementalStream}: stream labels [lo, hi), images as tensors. Structurally a
 * `@promptkd/continual` `ClassIncrementalTask`.
 */
export interface TensorIncrementalTask {
  readonly task: number;
  readonly lo: number;
  readonly hi: number;
  readonly train: TensorImages;
  readonly test: TensorImages;
}

/** Options of {@link classIncrementalStream}. */
export interface ClassIncrementalStreamOptions {
  /** N — number of tasks. */
  readonly numTasks: number;
  /** K — classes per task; the stream uses the first N·K classes in natural label order. */
  readonly classesPerTask: number;
  /** Images per class held out before the stream (the first ones of every class, e.g. a pretraining pool). Default 0. */
  readonly holdOutPerClass?: number;
  /** Stream training images per class, taken after the held-out ones. Default: all the rest. */
  readonly trainPerClass?: number;
  /** Test images per class (the first ones). Default: all. */
  readonly testPerClass?: number;
  /** The model's input side and channels: images are resized / turned grey → RGB to them ({@link toTensorsAt}). */
  readonly imageSize: number;
  readonly channels: number;
}

/** A class-incremental stream of tensors with the images held out from it. */
export interface ClassIncrementalStream {
  /** The held-out training images (all classes); absent when `holdOutPerClass` is 0. */
  readonly pool?: ImageDataset;
  /** The test images of all classes (capped by `testPerClass`), e.g. to check a model pretrained on the pool. */
  readonly test: ImageDataset;
  /** The tasks, images as float [0, 1] tensors at the model's size (dispose with {@link disposeTensorTasks}). */
  readonly tasks: TensorIncrementalTask[];
  /** Original labels of the stream, in stream order (natural label order). */
  readonly classOrder: readonly number[];
  /** Images per role. */
  readonly counts: { readonly pool: number; readonly train: number; readonly test: number };
}

/**
 * Cuts a train/test pair into a rehearsal-free class-incremental stream the way CODA-Prompt and the KDP code do
 * (kdp-spec §8.2): the first `holdOutPerClass` training images of every class are held out (`pool`), the stream
 * takes the next `trainPerClass` of each of the first N·K classes and `testPerClass` test images per class, in
 * natural label order, N tasks × K classes ({@link classIncrementalSplit}); images become tensors at the model's
 * size. Throws {@link ConfigError} when the dataset has fewer than N·K classes or a task is left without training
 * images.
 *
 * @example
 * ```ts
 * const stream = classIncrementalStream(
 *   { train: await loadDataset('fashionMnist', { split: 'train' }), test: await loadDataset('fashionMnist', { split: 'test' }) },
 *   { numTasks: 2, classesPerTask: 5, holdOutPerClass: 1000, trainPerClass: 1000, testPerClass: 500, imageSize: 28, channels: 1 },
 * );
 * // ... train on stream.tasks, pretrain a backbone on stream.pool ...
 * disposeTensorTasks(stream.tasks);
 * ```
 */
export function classIncrementalStream(data: DatasetSplits, options: ClassIncrementalStreamOptions): ClassIncrementalStream {
  const { train, test: testAll } = data;
  const { numTasks, classesPerTask, trainPerClass, testPerClass } = options;
  const hold = options.holdOutPerClass ?? 0;
  const used = numTasks * classesPerTask;
  if (used > train.numClasses) {
    throw new ConfigError(`Split ${numTasks}x${classesPerTask} needs ${used} classes; '${train.name}' has ${train.numClasses}.`, { field: 'numTasks' });
  }
  const pool = hold > 0 ? takePerClass(train, hold, { name: `${train.name}/pretrain-pool` }) : undefined;
  const streamTrain = takePerClass(train, trainPerClass ?? train.count, { offset: hold, name: `${train.name}/stream` });
  const test = testPerClass ? takePerClass(testAll, testPerClass, { name: `${testAll.name}/capped` }) : testAll;
  const split = classIncrementalSplit(
    { train: streamTrain, test },
    { tasks: numTasks, order: 'natural', classes: Array.from({ length: used }, (_, i) => i) },
  );
  const empty = split.tasks.find((t) => t.train.count === 0);
  if (empty) {
    throw new ConfigError(`Task ${empty.task} has no training images (holding out ${hold} per class leaves none).`, { field: 'holdOutPerClass' });
  }
  const size = { size: options.imageSize, channels: options.channels };
  const tasks: TensorIncrementalTask[] = [];
  try {
    for (const t of split.tasks) tasks.push({ task: t.task, lo: t.lo, hi: t.hi, train: toTensorsAt(t.train, size), test: toTensorsAt(t.test, size) });
  } catch (err) {
    disposeTensorTasks(tasks);
    throw err;
  }
  return {
    ...(pool ? { pool } : {}),
    test,
    tasks,
    classOrder: split.classOrder,
    counts: { pool: pool?.count ?? 0, train: tasks.reduce((s, t) => s + t.train.y.length, 0), test: tasks.reduce((s, t) => s + t.test.y.length, 0) },
  };
}

/** Frees the image tensors of a stream's tasks. */
export function disposeTensorTasks(tasks: readonly { readonly train: TensorImages; readonly test: TensorImages }[]): void {
  for (const t of tasks) tf.dispose([t.train.x, t.test.x]);
}
