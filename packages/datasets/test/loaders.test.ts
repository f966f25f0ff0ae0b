import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import { expectNoTensorLeak } from '@promptkd/testing';
import {
  BatchLoader,
  batches,
  classCounts,
  classIncrementalSplit,
  evalBatches,
  imageAt,
  randomCropTransform,
  toTensors,
  type LoaderState,
} from '@promptkd/datasets';
import { toyDataset } from './helpers.js';

function takeIndices(loader: BatchLoader, k: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < k; i++) {
    const b = loader.nextIndices();
    if (!b) break;
    out.push([...b.indices]);
  }
  return out;
}

describe('toTensors', () => {
  it('gives float32 NHWC in [0,1] and int32 labels', () => {
    const ds = toyDataset(3, 2, 2, 2, 3);
    const { x, y } = toTensors(ds, [2, 0]);
    expect(x.shape).toEqual([2, 2, 2, 3]);
    expect(x.dtype).toBe('float32');
    expect(y.dtype).toBe('int32');
    expect([...y.dataSync()]).toEqual([0, 0]);
    const d = x.dataSync();
    expect([...d.subarray(0, 12)].map((v) => Math.round(v * 255))).toEqual([...imageAt(ds, 2)]);
    tf.dispose([x, y]);
  });
});

describe('BatchLoader', () => {
  it('covers every image once per epoch, seeded, and the batch tensors match the data', () => {
    const ds = toyDataset(10, 3);
    const seen: number[] = [];
    for (const b of batches(ds, { batchSize: 4, seed: 1 })) {
      expect(b.x.shape[0]).toBe(b.indices.length);
      const labels = [...b.y.dataSync()];
      expect(labels).toEqual([...b.indices].map((i) => ds.labels[i] as number));
      const first = b.x.dataSync().subarray(0, 16);
      expect([...first].map((v) => Math.round(v * 255))).toEqual([...imageAt(ds, b.indices[0] as number)]);
      seen.push(...b.indices);
      tf.dispose([b.x, b.y]);
    }
    expect(seen.length).toBe(10);
    expect([...seen].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(seen).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const again = takeIndices(new BatchLoader(ds, { batchSize: 4, seed: 1 }), 3).flat();
    expect(again).toEqual(seen);
    const other = takeIndices(new BatchLoader(ds, { batchSize: 4, seed: 2 }), 3).flat();
    expect(other).not.toEqual(seen);
  });

  it('dropLast, cycle and batchesPerEpoch', () => {
    const ds = toyDataset(10, 2);
    const dl = new BatchLoader(ds, { batchSize: 4, dropLast: true });
    expect(dl.batchesPerEpoch).toBe(2);
    expect(takeIndices(dl, 5).map((b) => b.length)).toEqual([4, 4]);
    const cyc = new BatchLoader(ds, { batchSize: 4, cycle: true, seed: 3 });
    const steps = takeIndices(cyc, 6);
    expect(steps.map((b) => b.length)).toEqual([4, 4, 2, 4, 4, 2]);
    expect(cyc.epoch).toBe(1);
    expect(steps.slice(0, 3).flat()).not.toEqual(steps.slice(3).flat()); // reshuffled
    expect(() => new BatchLoader(toyDataset(3, 2), { batchSize: 4, dropLast: true, cycle: true })).toThrow(ConfigError);
    expect(() => new BatchLoader(ds, { batchSize: 0 })).toThrow(ConfigError);
  });

  it('resumes the same batch order and augmentation from a saved state (across an epoch boundary)', () => {
    const ds = toyDataset(10, 2, 4, 4, 1);
    const transform = randomCropTransform({ padding: 2 });
    const opts = { batchSize: 3, cycle: true, seed: 7, transform };
    const a = new BatchLoader(ds, opts);
    let state: LoaderState | undefined;
    const tail: { idx: number[]; x: number[] }[] = [];
    for (let step = 0; step < 9; step++) {
      if (step === 3) state = JSON.parse(JSON.stringify(a.state())) as LoaderState; // survives serialisation
      const b = a.next();
      if (!b) throw new Error('unexpected end');
      if (step >= 3) tail.push({ idx: [...b.indices], x: [...b.x.dataSync()] });
      tf.dispose([b.x, b.y]);
    }
    const resumed = new BatchLoader(ds, { ...opts, state });
    for (const expected of tail) {
      const b = resumed.next();
      if (!b) throw new Error('unexpected end');
      expect([...b.indices]).toEqual(expected.idx);
      expect([...b.x.dataSync()]).toEqual(expected.x);
      tf.dispose([b.x, b.y]);
    }
  });

  it('evalBatches keep dataset order; iterating and disposing leaks nothing', async () => {
    const ds = toyDataset(7, 2);
    const order = [...evalBatches(ds, { batchSize: 3 })].map((b) => {
      tf.dispose([b.x, b.y]);
      return [...b.indices];
    });
    expect(order).toEqual([[0, 1, 2], [3, 4, 5], [6]]);
    await expectNoTensorLeak(() => {
      for (const b of batches(ds, { batchSize: 2, transform: randomCropTransform({ padding: 1 }) })) tf.dispose([b.x, b.y]);
    });
  });
});

describe('classIncrementalSplit', () => {
  const train = toyDataset(40, 10);
  const test = toyDataset(20, 10);

  it('natural order: task t holds labels [lo, hi) and only its classes', () => {
    const s = classIncrementalSplit({ train, test }, { tasks: 5 });
    expect(s.classOrder).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(s.tasks.map((t) => [t.lo, t.hi])).toEqual([[0, 2], [2, 4], [4, 6], [6, 8], [8, 10]]);
    for (const t of s.tasks) {
      expect(t.classes).toEqual([t.lo, t.lo + 1]);
      expect(t.train.count).toBe(8);
      expect(t.test.count).toBe(4);
      expect([...t.train.labels].every((l) => l >= t.lo && l < t.hi)).toBe(true);
      expect(t.train.numClasses).toBe(10);
    }
    expect(s.seenTest(2).count).toBe(12);
    expect(classCounts(s.seenTest(4))).toEqual(new Array(10).fill(2));
  });

  it('seeded order is a deterministic permutation; labels are remapped to stream order', () => {
    const s = classIncrementalSplit({ train, test }, { tasks: 2, order: 42 });
    const s2 = classIncrementalSplit({ train, test }, { tasks: 2, order: 42 });
    expect(s.classOrder).toEqual(s2.classOrder);
    expect([...s.classOrder].sort((a, b) => a - b)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(s.classOrder).not.toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    const t1 = s.tasks[1]!;
    expect(t1.classes).toEqual(s.classOrder.slice(5));
    // an image of original class classOrder[7] carries stream label 7
    const orig = s.classOrder[7]!;
    const i = [...train.labels].indexOf(orig);
    const j = [...t1.train.labels].indexOf(7);
    expect([...imageAt(t1.train, j)]).toEqual([...imageAt(train, i)]);
  });

  it('a subset of classes and bad task counts', () => {
    const s = classIncrementalSplit({ train, test }, { tasks: 2, classes: [3, 4, 5, 6] });
    expect(s.tasks[0]!.classes).toEqual([3, 4]);
    expect(s.tasks[0]!.train.numClasses).toBe(4);
    expect(() => classIncrementalSplit({ train, test }, { tasks: 3 })).toThrow(ConfigError);
  });
});
