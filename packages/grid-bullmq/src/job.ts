import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '@promptkd/core';

/** Default BullMQ queue name shared by producers and workers. */
export const DEFAULT_QUEUE_NAME = 'promptkd-grid';

/** What a grid job carries: enough for any worker with the same promptkd version to run the cell. */
export interface GridJobData<C = unknown> {
  /** Cell kind (`kiop`, `kdp`, …): which {@link GridCellKind} runs it. */
  readonly kind: string;
  /** Grid name: the cell's run folder is `<grid root>/<cell>`, and the job id is `<grid>/<cell>`. */
  readonly grid: string;
  /** Cell id (run-folder path under the grid root). */
  readonly cell: string;
  /** The cell's spec as the kind reads it. */
  readonly config: C;
  /** The config the producer resolved (preset + overrides applied); a worker that resolves it differently refuses. */
  readonly resolved?: unknown;
  /** promptkd version of the producer. */
  readonly version: string;
  /** Fingerprint of the kind's config schema at the producer. */
  readonly schemaVersion: string;
}

/** What a worker returns for a finished cell (stored by BullMQ as the job's return value). */
export interface GridJobResult<R = unknown> {
  readonly result: R;
  /** Small files of the cell's run folder(s), base64, keyed by path relative to the grid root. */
  readonly files: Readonly<Record<string, string>>;
  /** Files left on the worker (or the shared folder) because they are checkpoints or too large. */
  readonly omitted: readonly { readonly path: string; readonly bytes: number }[];
  /** Worker name (`host:pid` unless set). */
  readonly worker: string;
  /** Seconds the cell ran on the worker. */
  readonly seconds: number;
}

/** Job id of a cell: `<grid>/<cell>` (BullMQ ids may not contain ':'). */
export function jobIdOf(grid: string, cell: string): string {
  return `${grid}/${cell}`;
}

const SAFE = /^[A-Za-z0-9_=+-][A-Za-z0-9._=+-]*$/;

/** Throws `ConfigError` unless `grid` is a plain folder-like name (letters, digits, `._=+-`). */
export function checkGridName(grid: string): void {
  if (!SAFE.test(grid)) {
    throw new ConfigError(`Grid name '${grid}' must be letters, digits and ._=+- (it names jobs and folders).`, { field: 'grid', value: grid });
  }
}

/** A short stable hash of a JSON value (key order as given). */
export function fingerprint(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value) ?? 'undefined').digest('hex').slice(0, 16);
}

/** Limits of {@link packFolders}. */
export interface PackLimits {
  /** Files larger than this stay behind (default 8 MiB). */
  readonly maxFileBytes?: number;
  /** Sub-folders that stay behind (default `checkpoints`). */
  readonly skipDirs?: readonly string[];
}

/**
 * Reads every small file under `root/<folder>` for each folder (checkpoints and large files excepted) as base64,
 * keyed by the path relative to `root` with `/` separators.
 */
export function packFolders(root: string, folders: readonly string[], limits: PackLimits = {}): Pick<GridJobResult, 'files' | 'omitted'> {
  const maxBytes = limits.maxFileBytes ?? 8 * 1024 * 1024;
  const skip = new Set(limits.skipDirs ?? ['checkpoints']);
  const files: Record<string, string> = {};
  const omitted: { path: string; bytes: number }[] = [];
  const walk = (rel: string): void => {
    const abs = path.join(root, ...rel.split('/'));
    if (!fs.existsSync(abs)) return;
    for (const entry of fs.readdirSync(abs, { withFileTypes: true })) {
      const child = `${rel}/${entry.name}`;
      if (entry.isDirectory()) {
        if (skip.has(entry.name)) omitted.push({ path: child, bytes: 0 });
        else walk(child);
      } else if (entry.isFile()) {
        if (entry.name.endsWith('.tmp')) continue;
        const bytes = fs.statSync(path.join(abs, entry.name)).size;
        if (bytes > maxBytes) omitted.push({ path: child, bytes });
        else files[child] = fs.readFileSync(path.join(abs, entry.name)).toString('base64');
      }
    }
  };
  for (const folder of folders) walk(folder);
  return { files, omitted };
}

/**
 * Writes files of a {@link GridJobResult} under `root` (atomically: temp file + rename). Refuses paths that would
 * leave `root` (absolute or with `..`). Returns the folders written.
 */
export function unpackFiles(root: string, files: Readonly<Record<string, string>>): string[] {
  const base = path.resolve(root);
  const folders = new Set<string>();
  for (const [rel, data] of Object.entries(files)) {
    const target = path.resolve(base, ...rel.split('/'));
    if (path.isAbsolute(rel) || rel.split('/').includes('..') || !target.startsWith(base + path.sep)) {
      throw new ConfigError(`A grid result names the file '${rel}', which is outside the grid folder; it was not written.`, { field: 'files', value: rel });
    }
    fs.mkdirSync(path.dirname(target), { recursive: true });
    const tmp = `${target}.${process.pid}.tmp`;
    fs.writeFileSync(tmp, Buffer.from(data, 'base64'));
    fs.renameSync(tmp, target);
    folders.add(path.dirname(target));
  }
  return [...folders];
}
