import fs from 'node:fs';
import path from 'node:path';
import { ConfigError, DataFormatError } from '@promptkd/core';

/** A finished run folder found by {@link collectResults}. */
export interface FoundRun<R = unknown> {
  /** Its folder under the root, `/`-separated (the grid cell id, e.g. `mnist__svhn/kiopBF__s0`). */
  readonly id: string;
  /** The id's folder names (`['mnist__svhn', 'kiopBF__s0']`). */
  readonly segments: readonly string[];
  /** Its absolute folder. */
  readonly dir: string;
  /** The `results` field of its `results.json`. */
  readonly results: R;
  /** The seed recorded in `results.json` (null when the run had none). */
  readonly seed: number | null;
}

/** Options of {@link collectResults}. */
export interface CollectResultsOptions {
  /** How many folders down the run folders are (the number of segments of the grid's cell ids). */
  readonly depth: number;
  /** Keeps only ids whose segments pass (e.g. a cell-name pattern for the last one); default: every run folder. */
  readonly match?: (segments: readonly string[]) => boolean;
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false; // a dangling link
  }
}

/**
 * The results collector of a grid: every run folder `depth` folders under `root` that holds a `results.json`
 * (a finished cell; unfinished or failed cells have none), in id order. A missing root gives none. A
 * `results.json` that cannot be parsed is an error that names the file (it was written atomically, so it is not
 * a torn write: something else changed it).
 */
export function collectResults<R = unknown>(root: string, options: CollectResultsOptions): FoundRun<R>[] {
  if (!Number.isInteger(options.depth) || options.depth < 1) {
    throw new ConfigError(`collectResults: depth must be a positive integer, got ${options.depth}.`, { field: 'depth', value: options.depth });
  }
  const out: FoundRun<R>[] = [];
  const walk = (dir: string, segments: string[]): void => {
    if (segments.length === options.depth) {
      const file = path.join(dir, 'results.json');
      if (!fs.existsSync(file) || (options.match && !options.match(segments))) return;
      let stored: { results: R; seed?: number | null };
      try {
        stored = JSON.parse(fs.readFileSync(file, 'utf8')) as { results: R; seed?: number | null };
      } catch (err) {
        throw new DataFormatError(`${file} is not valid JSON (${(err as Error).message}); remove it to run the cell again.`, { file }, { cause: err });
      }
      out.push({ id: segments.join('/'), segments, dir, results: stored.results, seed: stored.seed ?? null });
      return;
    }
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const child = path.join(dir, entry.name);
      // a symlinked run folder counts (grids put together from several runs' folders); depth bounds the walk
      if (entry.isDirectory() || (entry.isSymbolicLink() && isDirectory(child))) walk(child, [...segments, entry.name]);
    }
  };
  if (fs.existsSync(root)) walk(path.resolve(root), []);
  return out.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}
