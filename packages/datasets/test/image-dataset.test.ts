import { describe, expect, it } from 'vitest';
import { ConfigError, ShapeError } from '@promptkd/core';
import {
  classCounts,
  concatDatasets,
  createImageDataset,
  filterClasses,
  imageAt,
  subset,
  takePerClass,
} from '@promptkd/datasets';
import { toyDataset } from './helpers.js';

describe('ImageDataset', () => {
  it('validates buffer length and label range', () => {
    expect(() =>
      createImageDataset({ name: 'x', images: new Uint8Array(15), labels: new Int32Array(1), height: 4, width: 4, channels: 1, numClasses: 2 }),
    ).toThrow(ShapeError);
    expect(() =>
      createImageDataset({ name: 'x', images: new Uint8Array(16), labels: Int32Array.of(2), height: 4, width: 4, channels: 1, numClasses: 2 }),
    ).toThrow(/outside \[0, 2\)/);
    const ds = createImageDataset({ name: 'x', images: new Uint8Array(32), labels: Int32Array.of(0, 1), height: 4, width: 4, channels: 1, numClasses: 2 });
    expect(ds.count).toBe(2);
    expect(ds.classNames).toEqual(['0', '1']);
  });

  it('subset copies the selected images in order', () => {
    const ds = toyDataset(6, 3);
    const s = subset(ds, [4, 1]);
    expect(s.count).toBe(2);
    expect([...s.labels]).toEqual([1, 1]);
    expect([...imageAt(s, 0)]).toEqual([...imageAt(ds, 4)]);
    expect([...imageAt(s, 1)]).toEqual([...imageAt(ds, 1)]);
    expect(() => subset(ds, [6])).toThrow(ConfigError);
  });

  it('filterClasses relabels in the given order or keeps labels', () => {
    const ds = toyDataset(9, 3);
    const f = filterClasses(ds, [2, 0]);
    expect(f.numClasses).toBe(2);
    expect(f.classNames).toEqual(['2', '0']);
    // dataset order kept: indices 0(0),2(2),3(0),5(2),6(0),8(2) → labels relabelled 2→0, 0→1
    expect([...f.labels]).toEqual([1, 0, 1, 0, 1, 0]);
    expect([...imageAt(f, 1)]).toEqual([...imageAt(ds, 2)]);
    const k = filterClasses(ds, [2], { relabel: false });
    expect([...k.labels]).toEqual([2, 2, 2]);
    expect(k.numClasses).toBe(3);
    expect(() => filterClasses(ds, [0, 0])).toThrow(ConfigError);
  });

  it('takePerClass carves disjoint per-class pools', () => {
    const ds = toyDataset(12, 3); // 4 per class
    const a = takePerClass(ds, 2);
    const b = takePerClass(ds, 5, { offset: 2 });
    expect(classCounts(a)).toEqual([2, 2, 2]);
    expect(classCounts(b)).toEqual([2, 2, 2]);
    expect([...imageAt(a, 0)]).toEqual([...imageAt(ds, 0)]);
    expect([...imageAt(b, 0)]).toEqual([...imageAt(ds, 6)]);
  });

  it('concatDatasets appends and checks shapes', () => {
    const ds = toyDataset(3, 3);
    const c = concatDatasets([ds, subset(ds, [2])]);
    expect(c.count).toBe(4);
    expect([...imageAt(c, 3)]).toEqual([...imageAt(ds, 2)]);
    expect(() => concatDatasets([ds, toyDataset(3, 3, 5, 5)])).toThrow(ShapeError);
  });
});
