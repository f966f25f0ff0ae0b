import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ResourceUnavailableError } from '@promptkd/core';
import { createImageDataset, type ImageDataset } from '../image-dataset.js';
import { formatError } from './format-error.js';
import { parseTar, type TarEntry } from './tar.js';

const PIXELS = 32 * 32;
const IMAGE = 3 * PIXELS;

/** CIFAR-10 class names (`batches.meta.txt`). */
export const CIFAR10_CLASSES = ['airplane', 'automobile', 'bird', 'cat', 'deer', 'dog', 'frog', 'horse', 'ship', 'truck'] as const;

/** Layout of one CIFAR binary record. */
export interface CifarRecordLayout {
  /** Label bytes before the pixels: 1 (CIFAR-10) or 2 (CIFAR-100: coarse, fine). */
  readonly labelBytes: 1 | 2;
  /** Which label byte to use (CIFAR-100: 0 = coarse, 1 = fine). */
  readonly labelIndex: number;
  /** Number of classes; larger labels are a format error. */
  readonly numClasses: number;
}

/**
 * Parses a CIFAR binary batch: records of `labelBytes` label bytes + 3 072 pixel bytes (1 024 R, 1 024 G,
 * 1 024 B, each row-major 32×32). Pixels are returned NHWC.
 */
export function parseCifarBatch(bytes: Uint8Array, file: string, layout: CifarRecordLayout): { images: Uint8Array; labels: Int32Array } {
  const record = layout.labelBytes + IMAGE;
  if (bytes.length === 0 || bytes.length % record !== 0) {
    throw formatError(
      file,
      `${bytes.length} bytes is not a whole number of ${record}-byte CIFAR records (${layout.labelBytes} label byte(s) + 3072 pixels)`,
      'The file is truncated or not a CIFAR binary batch.',
    );
  }
  const n = bytes.length / record;
  const images = new Uint8Array(n * IMAGE);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const r = i * record;
    const label = bytes[r + layout.labelIndex] as number;
    if (label >= layout.numClasses) {
      throw formatError(file, `record ${i} has label ${label}, not below ${layout.numClasses} (wrong CIFAR variant or corrupt)`);
    }
    labels[i] = label;
    const src = r + layout.labelBytes;
    const out = i * IMAGE;
    for (let p = 0; p < PIXELS; p++) {
      images[out + 3 * p] = bytes[src + p] as number;
      images[out + 3 * p + 1] = bytes[src + PIXELS + p] as number;
      images[out + 3 * p + 2] = bytes[src + 2 * PIXELS + p] as number;
    }
  }
  return { images, labels };
}

/** Encodes NHWC 32×32×3 images + label rows as CIFAR binary records (tests and tooling). */
export function encodeCifarBatch(images: Uint8Array, labelRows: readonly (readonly number[])[]): Uint8Array {
  const lb = labelRows[0]?.length ?? 1;
  const out = new Uint8Array(labelRows.length * (lb + IMAGE));
  labelRows.forEach((row, i) => {
    const r = i * (lb + IMAGE);
    row.forEach((v, k) => (out[r + k] = v));
    for (let p = 0; p < PIXELS; p++) for (let c = 0; c < 3; c++) out[r + lb + c * PIXELS + p] = images[i * IMAGE + 3 * p + c] as number;
  });
  return out;
}

/** A file lookup over an extracted folder or a (gzipped) tar archive, by base name. */
interface FileSource {
  readonly where: string;
  get(name: string): { bytes: Uint8Array; path: string } | undefined;
}

function folderSource(dir: string, subdirs: readonly string[]): FileSource {
  return {
    where: dir,
    get(name) {
      for (const sub of ['', ...subdirs]) {
        const p = join(dir, sub, name);
        if (existsSync(p)) return { bytes: readFileSync(p), path: p };
      }
      return undefined;
    },
  };
}

function archiveSource(path: string): FileSource {
  const entries: TarEntry[] = parseTar(readFileSync(path), path);
  return {
    where: path,
    get(name) {
      const e = entries.find((x) => basename(x.name) === name);
      return e ? { bytes: e.data, path: `${path}!${e.name}` } : undefined;
    },
  };
}

/** A folder (extracted archive, or its parent) or a `.tar`/`.tar.gz` archive path. */
export function openCifarSource(pathOrArchive: string, subdirs: readonly string[]): FileSource {
  if (!existsSync(pathOrArchive)) {
    throw new ResourceUnavailableError(`${pathOrArchive} does not exist (expected the extracted CIFAR folder or its .tar.gz).`, {
      file: pathOrArchive,
    });
  }
  return statSync(pathOrArchive).isDirectory() ? folderSource(pathOrArchive, subdirs) : archiveSource(pathOrArchive);
}

function need(src: FileSource, name: string): { bytes: Uint8Array; path: string } {
  const f = src.get(name);
  if (!f) throw formatError(src.where, `${name} not found (expected the official CIFAR binary layout)`);
  return f;
}

function classNamesFrom(src: FileSource, name: string, fallback: readonly string[]): string[] {
  const f = src.get(name);
  if (!f) return [...fallback];
  const names = new TextDecoder().decode(f.bytes).split(/\r?\n/).map((s) => s.trim()).filter(Boolean);
  return names.length === fallback.length ? names : [...fallback];
}

/**
 * CIFAR-10 binary version (`cifar-10-binary.tar.gz`, folder `cifar-10-batches-bin`): train = `data_batch_1..5.bin`
 * (50 000), test = `test_batch.bin` (10 000). `source` is the folder or the archive.
 */
export function readCifar10(source: string, split: 'train' | 'test'): ImageDataset {
  const src = openCifarSource(source, ['cifar-10-batches-bin']);
  const files = split === 'train' ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ['test_batch.bin'];
  const parts = files.map((f) => {
    const { bytes, path } = need(src, f);
    return parseCifarBatch(bytes, path, { labelBytes: 1, labelIndex: 0, numClasses: 10 });
  });
  return fromParts(parts, `cifar10/${split}`, classNamesFrom(src, 'batches.meta.txt', CIFAR10_CLASSES), src.where);
}

/**
 * CIFAR-100 binary version (`cifar-100-binary.tar.gz`, folder `cifar-100-binary`): `train.bin` (50 000) /
 * `test.bin` (10 000), records `<coarse><fine><3072 pixels>`. `labels: 'fine'` (100 classes, default) or `'coarse'` (20).
 */
export function readCifar100(source: string, split: 'train' | 'test', labels: 'fine' | 'coarse' = 'fine'): ImageDataset {
  const src = openCifarSource(source, ['cifar-100-binary']);
  const { bytes, path } = need(src, split === 'train' ? 'train.bin' : 'test.bin');
  const fine = labels === 'fine';
  const part = parseCifarBatch(bytes, path, { labelBytes: 2, labelIndex: fine ? 1 : 0, numClasses: fine ? 100 : 20 });
  const fallback = Array.from({ length: fine ? 100 : 20 }, (_, i) => String(i));
  const names = classNamesFrom(src, fine ? 'fine_label_names.txt' : 'coarse_label_names.txt', fallback);
  return fromParts([part], `cifar100/${split}`, names, src.where);
}

function fromParts(parts: { images: Uint8Array; labels: Int32Array }[], name: string, classNames: string[], source: string): ImageDataset {
  const n = parts.reduce((s, p) => s + p.labels.length, 0);
  const images = new Uint8Array(n * IMAGE);
  const labels = new Int32Array(n);
  let at = 0;
  for (const p of parts) {
    images.set(p.images, at * IMAGE);
    labels.set(p.labels, at);
    at += p.labels.length;
  }
  return createImageDataset({ name, images, labels, height: 32, width: 32, channels: 3, numClasses: classNames.length, classNames, source });
}
