import { ConfigError } from '@promptkd/core';
import type { DownloadOptions } from './download.js';

/** Which part of a dataset to load. */
export type Split = 'train' | 'test';

/** Options of {@link loadDataset}. */
export interface LoadOptions extends DownloadOptions {
  /** `train` (default) or `test`. */
  readonly split?: Split;
  /** Folder holding the dataset's files; when given, only this folder is used (no cache, no download). */
  readonly root?: string;
  /** Cache folder; default {@link dataCacheDir} (`$PROMPTKD_DATA` or `~/.cache/promptkd/data`). */
  readonly cacheDir?: string;
  /** Dataset-specific source choice (e.g. `'npm'`, `'debian'`, `'official'`); default `'auto'`. */
  readonly source?: string;
  /** Target side length for datasets resized on load (GTSRB 32, ImageNet-R 224, image folders). */
  readonly imageSize?: number;
}

/** Normalises `split` and validates it. */
export function splitOf(options: LoadOptions): Split {
  const split = options.split ?? 'train';
  if (split !== 'train' && split !== 'test') {
    throw new ConfigError(`split must be 'train' or 'test', got '${String(split)}'.`, { field: 'split' });
  }
  return split;
}

/** `offline` from the options, else `PROMPTKD_OFFLINE=1` in the environment. */
export function isOffline(options: LoadOptions): boolean {
  return options.offline ?? process.env.PROMPTKD_OFFLINE === '1';
}
