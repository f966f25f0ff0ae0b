import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { ResourceUnavailableError } from '@promptkd/core';
import type { ImageDataset } from '../image-dataset.js';
import { readIdxDataset } from '../readers/read-files.js';
import { ensureFile, type DownloadOptions, type RemoteFile } from './download.js';
import type { Split } from './load-options.js';

const PREFIX: Record<Split, string> = { train: 'train', test: 't10k' };

/** Candidate names of one IDX file: gzipped, raw, and the `train-images.idx3-ubyte` variant some unpackers produce. */
function candidates(split: Split, kind: 'images-idx3' | 'labels-idx1'): string[] {
  const base = `${PREFIX[split]}-${kind}-ubyte`;
  const dotted = `${PREFIX[split]}-${kind.replace('-', '.')}-ubyte`;
  return [`${base}.gz`, base, dotted, `${dotted}.gz`];
}

/** The image and label IDX paths of `split` in `dir`, or undefined when either is missing. */
export function findIdxPair(dir: string, split: Split): { images: string; labels: string } | undefined {
  const images = candidates(split, 'images-idx3').map((f) => join(dir, f)).find((p) => existsSync(p));
  const labels = candidates(split, 'labels-idx1').map((f) => join(dir, f)).find((p) => existsSync(p));
  return images && labels ? { images, labels } : undefined;
}

/** Reads an IDX pair from `dir` or throws ResourceUnavailableError listing the expected names. */
export function readIdxSplit(
  dir: string,
  split: Split,
  options: { name: string; classNames: readonly string[]; source?: string },
): ImageDataset {
  const pair = findIdxPair(dir, split);
  if (!pair) {
    const want = [candidates(split, 'images-idx3')[0], candidates(split, 'labels-idx1')[0]].map((f) => join(dir, f as string));
    throw new ResourceUnavailableError(`${options.name}: IDX files not found; expected ${want.join(' and ')} (gzipped or not).`, {
      file: want[0],
    });
  }
  const ds = readIdxDataset(pair.images, pair.labels, options);
  return { ...ds, source: options.source ?? pair.images };
}

/** Downloads (if needed) the official IDX pair of `split` into `dir` and reads it. */
export async function downloadIdxSplit(
  dir: string,
  split: Split,
  files: readonly RemoteFile[],
  options: { name: string; classNames: readonly string[] } & DownloadOptions,
): Promise<ImageDataset> {
  for (const kind of ['images-idx3', 'labels-idx1'] as const) {
    const file = `${PREFIX[split]}-${kind}-ubyte.gz`;
    const remote = files.find((f) => f.file === file);
    if (!remote) throw new Error(`internal: no official file ${file}`);
    await ensureFile(remote, join(dir, file), options);
  }
  return readIdxSplit(dir, split, options);
}
