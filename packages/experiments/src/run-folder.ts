import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError, DataFormatError } from '@promptkd/core';
import { toStorageError, writeFileAtomicSync } from './atomic-file.js';
import {
  type CheckpointInfo,
  type CheckpointInput,
  type LoadLatestOptions,
  type LoadedCheckpoint,
  type SaveCheckpointOptions,
  loadLatestCheckpoint,
  saveCheckpoint,
} from './checkpoint.js';
import { type RunMetadata, runMetadata } from './run-metadata.js';

/** Files and sub-folders of a run folder. */
export interface RunFolderPaths {
  readonly dir: string;
  /** The resolved configuration (input to the run; re-usable as a config file). */
  readonly config: string;
  /** Run bookkeeping: name, seed, start/end time, status, environment ({@link RunInfo}). */
  readonly run: string;
  /** One JSON object per line, appended as the run goes. */
  readonly metrics: string;
  readonly checkpoints: string;
  /** Final results ({@link ResultsFile}); its presence marks the run as done. */
  readonly results: string;
  readonly tables: string;
  readonly figures: string;
}

/** Content of `run.json`. */
export interface RunInfo {
  readonly format: 'promptkd-run';
  readonly version: 1;
  readonly name: string;
  readonly seed: number | null;
  readonly status: 'running' | 'done' | 'failed';
  readonly startedAt: string;
  readonly endedAt: string | null;
  /** Times the run was re-opened to resume. */
  readonly resumedAt: readonly string[];
  readonly error: string | null;
  readonly meta: RunMetadata;
}

/** Content of `results.json`. */
export interface ResultsFile<R = unknown> {
  readonly format: 'promptkd-results';
  readonly version: 1;
  readonly name: string;
  readonly results: R;
  readonly config: unknown;
  readonly seed: number | null;
  readonly startedAt: string;
  readonly endedAt: string;
  readonly meta: RunMetadata;
}

/** An open run folder. Small files are written atomically; metrics lines are appended and flushed per call. */
export interface RunFolder<C = unknown> {
  readonly dir: string;
  readonly name: string;
  readonly config: C;
  readonly paths: RunFolderPaths;
  /** True when the folder existed and was re-opened (a resume). */
  readonly resumed: boolean;
  /** Current `run.json`. */
  info(): RunInfo;
  /** Appends one JSON line to `metrics.jsonl` (adds `time`, ISO, unless given). */
  appendMetrics(record: Readonly<Record<string, unknown>>): void;
  /** All metric records; a torn last line (crash mid-write) is skipped. */
  readMetrics(): Record<string, unknown>[];
  /** Keeps only the metric records for which `keep` is true (use on resume: `r => r.step <= ckpt.step`). */
  rewindMetrics(keep: (record: Record<string, unknown>) => boolean): void;
  /** {@link saveCheckpoint} into `paths.checkpoints`. */
  saveCheckpoint(input: CheckpointInput, options?: SaveCheckpointOptions): Promise<CheckpointInfo>;
  /** {@link loadLatestCheckpoint} from `paths.checkpoints`. */
  loadLatestCheckpoint<S = unknown>(options?: LoadLatestOptions): Promise<LoadedCheckpoint<S> | undefined>;
  /** Writes `results.json` (with config, seed, times and environment) and marks the run done. */
  writeResults(results: unknown): void;
  /** The `results` field of `results.json`, or undefined when the run has not finished. */
  readResults<R = unknown>(): R | undefined;
  hasResults(): boolean;
  /** Records a failure in `run.json` (status `failed`, the error message). */
  markFailed(error: unknown): void;
}

/** Options of {@link createRunFolder}. */
export interface CreateRunFolderOptions<C> {
  /** Folder name under `root`; `/`-separated segments of letters, digits, `._=+-` (e.g. `grid/mnist__kiop-b__s0`). */
  readonly name: string;
  /** The resolved configuration (JSON-serialisable). */
  readonly config: C;
  readonly seed?: number;
  /**
   * When the folder already exists: `resume` (default) re-opens it if its config equals `config`
   * (else {@link ConfigError}); `error` refuses; `overwrite` deletes it first.
   */
  readonly ifExists?: 'resume' | 'error' | 'overwrite';
}

const SEGMENT = /^[A-Za-z0-9_=+-][A-Za-z0-9._=+-]*$/;

function pathsOf(dir: string): RunFolderPaths {
  return {
    dir,
    config: path.join(dir, 'config.json'),
    run: path.join(dir, 'run.json'),
    metrics: path.join(dir, 'metrics.jsonl'),
    checkpoints: path.join(dir, 'checkpoints'),
    results: path.join(dir, 'results.json'),
    tables: path.join(dir, 'tables'),
    figures: path.join(dir, 'figures'),
  };
}

/** JSON with object keys sorted, for comparing configs independent of key order. */
export function stableStringify(value: unknown): string {
  return JSON.stringify(value, (_k, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v as object).sort().map((k) => [k, (v as Record<string, unknown>)[k]]))
      : v,
  );
}

function diffPaths(a: unknown, b: unknown, prefix = ''): string[] {
  if (stableStringify(a) === stableStringify(b)) return [];
  if (a && b && typeof a === 'object' && typeof b === 'object' && !Array.isArray(a) && !Array.isArray(b)) {
    const keys = [...new Set([...Object.keys(a), ...Object.keys(b)])].sort();
    return keys.flatMap((k) => diffPaths((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], prefix ? `${prefix}.${k}` : k));
  }
  return [prefix || '(root)'];
}

function readJson(file: string, what: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new DataFormatError(`Cannot read ${what} '${file}': ${(err as Error).message}`, { file }, { cause: err });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new DataFormatError(`${what} '${file}' is not valid JSON (truncated or corrupt).`, { file });
  }
}

function writeJson(file: string, value: unknown): void {
  writeFileAtomicSync(file, `${JSON.stringify(value, null, 2)}\n`);
}

function mkdirs(p: RunFolderPaths): void {
  for (const d of [p.dir, p.checkpoints, p.tables, p.figures]) {
    try {
      fs.mkdirSync(d, { recursive: true });
    } catch (err) {
      throw toStorageError(err, d, 'run folder');
    }
  }
}

/**
 * Creates (or, by default, re-opens to resume) the run folder `root/name`: `config.json`, `run.json`
 * (seed, start time, git sha, backend, versions), `metrics.jsonl`, `checkpoints/`, `tables/`, `figures/`.
 */
export function createRunFolder<C>(root: string, options: CreateRunFolderOptions<C>): RunFolder<C> {
  const { name } = options;
  const segments = name.split('/');
  if (!name || !segments.every((s) => SEGMENT.test(s))) {
    throw new ConfigError(
      `Run name '${name}' is not a safe folder name: use '/'-separated segments of letters, digits and ._=+- (not starting with '.').`,
      { field: 'name', value: name },
    );
  }
  let configText: string | undefined;
  try {
    configText = JSON.stringify(options.config);
  } catch (err) {
    throw new ConfigError(`Run config is not JSON-serialisable: ${(err as Error).message}`, { field: 'config' });
  }
  if (configText === undefined) throw new ConfigError('Run config is not JSON-serialisable.', { field: 'config' });
  const config = JSON.parse(configText) as C;
  const dir = path.resolve(root, ...segments);
  const paths = pathsOf(dir);
  const ifExists = options.ifExists ?? 'resume';
  const exists = fs.existsSync(paths.config);
  if (exists && ifExists === 'error') {
    throw new ConfigError(`Run folder '${dir}' already exists. Choose another run name, or resume/overwrite it explicitly.`, { field: 'name', dir });
  }
  if (exists && ifExists === 'overwrite') fs.rmSync(dir, { recursive: true, force: true });
  if (exists && ifExists === 'resume') {
    const previous = readJson(paths.config, 'run config');
    const diff = diffPaths(previous, config);
    if (diff.length > 0) {
      throw new ConfigError(
        `Cannot resume run '${dir}': its config differs at ${diff.slice(0, 8).join(', ')}${diff.length > 8 ? ', ...' : ''}. ` +
          'Use a new run name for a different config, or overwrite the old run.',
        { field: diff[0], dir, differences: diff },
      );
    }
    mkdirs(paths);
    const info = readRunInfo(paths, name);
    const updated: RunInfo = { ...info, status: info.status === 'done' ? 'done' : 'running', resumedAt: [...info.resumedAt, new Date().toISOString()], meta: runMetadata() };
    writeJson(paths.run, updated);
    return makeRunFolder(paths, name, config, true);
  }
  mkdirs(paths);
  writeJson(paths.config, config);
  const info: RunInfo = {
    format: 'promptkd-run',
    version: 1,
    name,
    seed: options.seed ?? null,
    status: 'running',
    startedAt: new Date().toISOString(),
    endedAt: null,
    resumedAt: [],
    error: null,
    meta: runMetadata(),
  };
  writeJson(paths.run, info);
  return makeRunFolder(paths, name, config, false);
}

function readRunInfo(paths: RunFolderPaths, name: string): RunInfo {
  if (!fs.existsSync(paths.run)) {
    return { format: 'promptkd-run', version: 1, name, seed: null, status: 'running', startedAt: new Date().toISOString(), endedAt: null, resumedAt: [], error: null, meta: runMetadata() };
  }
  const info = readJson(paths.run, 'run info') as Partial<RunInfo> | null;
  if (!info || typeof info !== 'object' || info.format !== 'promptkd-run') {
    throw new DataFormatError(`'${paths.run}' is not a promptkd run info file.`, { file: paths.run });
  }
  return { ...info, resumedAt: Array.isArray(info.resumedAt) ? info.resumedAt : [] } as RunInfo;
}

/** Opens an existing run folder (e.g. to read results or resume); throws {@link DataFormatError} if `dir` is not one. */
export function openRunFolder<C = unknown>(dir: string): RunFolder<C> {
  const paths = pathsOf(path.resolve(dir));
  if (!fs.existsSync(paths.config)) {
    throw new DataFormatError(`'${paths.dir}' is not a run folder (no config.json).`, { file: paths.config });
  }
  const config = readJson(paths.config, 'run config') as C;
  const info = readRunInfo(paths, path.basename(paths.dir));
  return makeRunFolder(paths, info.name, config, true);
}

function makeRunFolder<C>(paths: RunFolderPaths, name: string, config: C, resumed: boolean): RunFolder<C> {
  const readMetrics = (): Record<string, unknown>[] => {
    let text: string;
    try {
      text = fs.readFileSync(paths.metrics, 'utf8');
    } catch {
      return [];
    }
    const lines = text.split('\n');
    const out: Record<string, unknown>[] = [];
    lines.forEach((line, i) => {
      if (line.trim() === '') return;
      try {
        const rec = JSON.parse(line) as unknown;
        if (!rec || typeof rec !== 'object' || Array.isArray(rec)) throw new Error('not an object');
        out.push(rec as Record<string, unknown>);
      } catch {
        // A torn final line (no trailing newline) is what a kill mid-append leaves: skip it.
        if (i === lines.length - 1) return;
        throw new DataFormatError(`${paths.metrics}: line ${i + 1} is not a JSON object.`, { file: paths.metrics, line: i + 1 });
      }
    });
    return out;
  };
  const folder: RunFolder<C> = {
    dir: paths.dir,
    name,
    config,
    paths,
    resumed,
    info: () => readRunInfo(paths, name),
    appendMetrics(record) {
      const line = `${JSON.stringify('time' in record ? record : { ...record, time: new Date().toISOString() })}\n`;
      try {
        // A torn last line from an earlier crash (kill mid-append) is dropped before appending.
        try {
          const st = fs.statSync(paths.metrics);
          if (st.size > 0) {
            const fd = fs.openSync(paths.metrics, 'r');
            let last = 0x0a;
            try {
              const b = Buffer.alloc(1);
              fs.readSync(fd, b, 0, 1, st.size - 1);
              last = b[0] as number;
            } finally {
              fs.closeSync(fd);
            }
            if (last !== 0x0a) {
              const text = fs.readFileSync(paths.metrics);
              fs.truncateSync(paths.metrics, text.lastIndexOf(0x0a) + 1);
            }
          }
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
        fs.appendFileSync(paths.metrics, line);
      } catch (err) {
        throw toStorageError(err, paths.metrics, 'metrics');
      }
    },
    readMetrics,
    rewindMetrics(keep) {
      const kept = readMetrics().filter(keep);
      writeFileAtomicSync(paths.metrics, kept.map((r) => `${JSON.stringify(r)}\n`).join(''));
    },
    saveCheckpoint: (input, options) => saveCheckpoint(paths.checkpoints, input, options),
    loadLatestCheckpoint: (options) => loadLatestCheckpoint(paths.checkpoints, options),
    writeResults(results) {
      const info = readRunInfo(paths, name);
      const endedAt = new Date().toISOString();
      const file: ResultsFile = {
        format: 'promptkd-results',
        version: 1,
        name,
        results,
        config,
        seed: info.seed,
        startedAt: info.startedAt,
        endedAt,
        meta: runMetadata(),
      };
      writeJson(paths.results, file);
      writeJson(paths.run, { ...info, status: 'done', endedAt, error: null });
    },
    readResults<R>() {
      if (!fs.existsSync(paths.results)) return undefined;
      const file = readJson(paths.results, 'results') as Partial<ResultsFile<R>> | null;
      if (!file || typeof file !== 'object' || file.format !== 'promptkd-results' || !('results' in file)) {
        throw new DataFormatError(`'${paths.results}' is not a promptkd results file.`, { file: paths.results });
      }
      return file.results as R;
    },
    hasResults: () => fs.existsSync(paths.results),
    markFailed(error) {
      const info = readRunInfo(paths, name);
      const message = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
      writeJson(paths.run, { ...info, status: 'failed', endedAt: new Date().toISOString(), error: message });
    },
  };
  return folder;
}
