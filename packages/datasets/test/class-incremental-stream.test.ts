import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import { expectNoTensorLeak } from '@promptkd/testing';
import { classIncrementalStream, createImageDataset, disposeTensorTasks, toTensorsAt, type ImageDataset } from '@promptkd/datasets';
import { toyDataset } from './helpers.js';

/** `perClass` images of each of `classes` classes, in class-cyclic order; pixel value = the image's index within its class. */
function indexed(classes: number, perClass: number, name: string, size = 4): ImageDataset {
  const n = classes * perClass;
  const px = size * size;
  const images = new Uint8Array(n * px);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % classes;
    images.fill(Math.floor(i / classes), i * px, (i + 1) * px);
  }
  return createImageDataset({ name, images, labels, height: size, width: size, channels: 1, numClasses: classes });
}

describe('toTensorsAt', () => {
  it('resizes and turns grey into RGB only when needed; labels as Int32Array', async () => {
    const ds = toyDataset(3, 2, 4, 4, 1);
    const same = toTensorsAt(ds, { size: 4, channels: 1 });
    expect(same.x.shape).toEqual([3, 4, 4, 1]);
    expect([...same.y]).toEqual([0, 1, 0]);
    const rgb = toTensorsAt(ds, { size: 8, channels: 3 });
    expect(rgb.x.shape).toEqual([3, 8, 8, 3]);
    const [r, g] = tf.split(rgb.x, 3, 3);
    expect(await r!.data()).toEqual(await g!.data());
    tf.dispose([same.x, rgb.x, r!, g!]);
    expect(() => toTensorsAt(toyDataset(2, 2, 4, 4, 3), { size: 4, channels: 1 })).toThrow(ConfigError);
  });
  it('leaks nothing', async () => {
    await expectNoTensorLeak(() => {
      const { x } = toTensorsAt(toyDataset(2, 2, 4, 4, 1), { size: 6, channels: 3 });
      x.dispose();
    });
  });
});

describe('classIncrementalStream', () => {
  const train = indexed(6, 10, 'train');
  const test = indexed(6, 5, 'test');
  it('holds out the first images of every class, then takes the stream and the capped test set, N tasks × K classes', () => {
    const s = classIncrementalStream({ train, test }, { numTasks: 2, classesPerTask: 2, holdOutPerClass: 3, trainPerClass: 4, testPerClass: 2, imageSize: 4, channels: 1 });
    expect(s.pool?.count).toBe(18); // 3 per class, all 6 classes
    expect(s.test.count).toBe(12); // 2 per class, all classes
    expect(s.classOrder).toEqual([0, 1, 2, 3]);
    expect(s.tasks.map((t) => [t.task, t.lo, t.hi, t.train.y.length, t.test.y.length])).toEqual([[0, 0, 2, 8, 4], [1, 2, 4, 8, 4]]);
    expect(s.counts).toEqual({ pool: 18, train: 16, test: 8 });
    // stream images are the 4th..7th of their class (the pool has the first 3)
    expect(new Set(Array.from(s.tasks[0]!.train.x.dataSync(), (v) => Math.round(v * 255)))).toEqual(new Set([3, 4, 5, 6]));
    disposeTensorTasks(s.tasks);
    const all = classIncrementalStream({ train, test }, { numTasks: 3, classesPerTask: 2, imageSize: 4, channels: 1 });
    expect(all.pool).toBeUndefined();
    expect(all.counts).toEqual({ pool: 0, train: 60, test: 30 });
    disposeTensorTasks(all.tasks);
  });
  it('refuses a split with more classes than the dataset and a pool that leaves a task empty', async () => {
    const opts = { imageSize: 4, channels: 1 };
    expect(() => classIncrementalStream({ train, test }, { ...opts, numTasks: 4, classesPerTask: 2 })).toThrow(/needs 8 classes/);
    await expectNoTensorLeak(() => {
      expect(() => classIncrementalStream({ train, test }, { ...opts, numTasks: 2, classesPerTask: 2, holdOutPerClass: 10 })).toThrow(
        expect.objectContaining({ details: expect.objectContaining({ field: 'holdOutPerClass' }) }),
      );
    });
  });
});
