import * as tf from '@tensorflow/tfjs';
import { ConfigError } from '@promptkd/core';
import type { ClassIncrementalTask } from '@promptkd/continual';
import {
  classIncrementalSplit,
  greyToRgb,
  loadDataset,
  resize,
  takePerClass,
  toTensors,
  type ImageDataset,
} from '@promptkd/datasets/node';
import type { BenchPreset } from './bench-presets.js';

/** Where a cell's images come from. */
export interface BenchData {
  /** Held-out pretraining pool (the first `pretraining.images / K` train images of every class); absent with timm weights. */
  readonly pool?: ImageDataset;
  /** All test images of the classes (capped by `testPerClass`), used to check the pretrained backbones. */
  readonly test: ImageDataset;
  /** The class-incremental stream, images as float [0,1] tensors at the backbone's size (caller disposes). */
  readonly tasks: ClassIncrementalTask[];
  /** Original labels of the stream, in stream order (natural label order). */
  readonly classOrder: readonly number[];
  /** Images per role, for the report. */
  readonly counts: { pool: number; train: number; test: number };
}

/** Pool images per class, from the preset's `pretraining.images` and the dataset's class count. */
export function poolPerClass(preset: BenchPreset, numClasses: number): number {
  return preset.pretraining ? Math.floor(preset.pretraining.images / numClasses) : 0;
}

/** Images of a dataset as float tensors at `size`² with `channels` channels (resize / grey→RGB only when needed). */
export function imagesAt(ds: ImageDataset, size: number, channels: number): { x: tf.Tensor4D; y: Int32Array } {
  const { x, y } = toTensors(ds);
  const out = tf.tidy(() => {
    let t: tf.Tensor4D = x;
    if (ds.height !== size || ds.width !== size) t = resize(t, [size, size]);
    if (ds.channels === 1 && channels === 3) t = greyToRgb(t);
    if (ds.channels !== channels && !(ds.channels === 1 && channels === 3)) {
      throw new ConfigError(`Dataset '${ds.name}' has ${ds.channels} channels; the backbone expects ${channels}.`, { field: 'channels' });
    }
    return t === x ? x.clone() : t;
  });
  const labels = Int32Array.from(y.dataSync());
  tf.dispose([x, y]);
  return { x: out, y: labels };
}

/**
 * Loads a dataset and cuts it as kdp-spec §8.2: the pretraining pool = first P train images of every class,
 * the CL stream = the next `trainPerClass` train images of each of the first N·K classes (natural label order),
 * `testPerClass` test images per class; N tasks × K classes (`classIncrementalSplit`, natural order).
 */
export async function loadBenchData(preset: BenchPreset, options: { root?: string; withPool: boolean }): Promise<BenchData> {
  const key = preset.data.dataset;
  const load = (split: 'train' | 'test') => loadDataset(key, { split, ...(options.root ? { root: options.root } : {}) });
  const [train, testAll] = await Promise.all([load('train'), load('test')]);
  const { numTasks, classesPerTask, trainPerClass, testPerClass } = preset.data;
  const used = numTasks * classesPerTask;
  if (used > train.numClasses) {
    throw new ConfigError(`Split ${numTasks}x${classesPerTask} needs ${used} classes; '${key}' has ${train.numClasses}.`, { field: 'data.numTasks' });
  }
  const p = options.withPool ? poolPerClass(preset, train.numClasses) : 0;
  const pool = p > 0 ? takePerClass(train, p, { name: `${train.name}/pretrain-pool` }) : undefined;
  const streamTrain = takePerClass(train, trainPerClass ?? train.count, { offset: p, name: `${train.name}/stream` });
  const test = testPerClass ? takePerClass(testAll, testPerClass, { name: `${testAll.name}/capped` }) : testAll;
  const split = classIncrementalSplit(
    { train: streamTrain, test },
    { tasks: numTasks, order: 'natural', classes: Array.from({ length: used }, (_, i) => i) },
  );
  const { imageSize, channels } = preset.student;
  const tasks: ClassIncrementalTask[] = split.tasks.map((t) => ({
    task: t.task,
    lo: t.lo,
    hi: t.hi,
    train: imagesAt(t.train, imageSize, channels),
    test: imagesAt(t.test, imageSize, channels),
  }));
  for (const t of tasks) {
    if (t.train.y.length === 0) {
      throw new ConfigError(`Task ${t.task} has no training images (pool of ${p}/class leaves none; lower pretraining.images).`, { field: 'data.trainPerClass' });
    }
  }
  return {
    ...(pool ? { pool } : {}),
    test,
    tasks,
    classOrder: split.classOrder,
    counts: { pool: pool?.count ?? 0, train: tasks.reduce((s, t) => s + t.train.y.length, 0), test: tasks.reduce((s, t) => s + t.test.y.length, 0) },
  };
}

/** Frees the stream's tensors. */
export function disposeTasks(tasks: readonly ClassIncrementalTask[]): void {
  for (const t of tasks) tf.dispose([t.train.x, t.test.x]);
}
