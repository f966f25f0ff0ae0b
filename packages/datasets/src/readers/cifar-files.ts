import { existsSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { ResourceUnavailableError } from '@promptkd/core';
import type { ImageDataset } from '../image-dataset.js';
import { CIFAR10_CLASSES, cifarFromParts, parseCifarBatch } from './cifar.js';
import { formatError } from './format-error.js';
import { parseTar, type TarEntry } from './tar.js';

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
  return cifarFromParts(parts, `cifar10/${split}`, classNamesFrom(src, 'batches.meta.txt', CIFAR10_CLASSES), src.where);
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
  return cifarFromParts([part], `cifar100/${split}`, names, src.where);
}

