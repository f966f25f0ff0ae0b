import { ConfigError } from '@promptkd/core';
import { classIncrementalStream, loadDataset, type ClassIncrementalStream } from '@promptkd/datasets/node';
import type { KdpRunPreset } from './presets.js';

/** Options of {@link loadCdlData}. */
export interface LoadCdlDataOptions {
  /** Folder with the dataset's files (else the usual cache / system locations of `@promptkd/datasets`). */
  readonly root?: string;
  /** Hold out the backbone-pretraining pool (`pretraining.images / #classes` per class). Without it the stream starts at each class's first image. */
  readonly withPool: boolean;
}

/**
 * Loads a preset's dataset and cuts it as kdp-spec §8.2 ({@link classIncrementalStream}): the pretraining pool = the
 * first `pretraining.images / #classes` train images of every class (with `withPool`), the CL stream = the next
 * `trainPerClass` train images of each of the first N·K classes in natural label order, `testPerClass` test images
 * per class; images at the student's size and channels. Throws {@link ConfigError} naming the preset field when
 * the split needs more classes than the dataset has or the pool leaves a task without images. The caller
 * disposes the tasks (`disposeTensorTasks`).
 */
export async function loadCdlData(preset: KdpRunPreset, options: LoadCdlDataOptions): Promise<ClassIncrementalStream> {
  const key = preset.data.dataset;
  const load = (split: 'train' | 'test') => loadDataset(key, { split, ...(options.root ? { root: options.root } : {}) });
  const [train, test] = await Promise.all([load('train'), load('test')]);
  const { numTasks, classesPerTask, trainPerClass, testPerClass } = preset.data;
  if (numTasks * classesPerTask > train.numClasses) {
    throw new ConfigError(`Split ${numTasks}x${classesPerTask} needs ${numTasks * classesPerTask} classes; '${key}' has ${train.numClasses}.`, { field: 'data.numTasks' });
  }
  const pool = options.withPool && preset.pretraining ? Math.floor(preset.pretraining.images / train.numClasses) : 0;
  try {
    return classIncrementalStream(
      { train, test },
      {
        numTasks,
        classesPerTask,
        holdOutPerClass: pool,
        ...(trainPerClass !== undefined ? { trainPerClass } : {}),
        ...(testPerClass !== undefined ? { testPerClass } : {}),
        imageSize: preset.student.imageSize,
        channels: preset.student.channels,
      },
    );
  } catch (err) {
    if (err instanceof ConfigError && err.details.field === 'holdOutPerClass') {
      throw new ConfigError(`${err.message.replace(/\.$/, '')}; lower pretraining.images.`, { field: 'data.trainPerClass' }, { cause: err });
    }
    throw err;
  }
}
