import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { ResourceUnavailableError } from '@promptkd/core';
import { formatError } from './format-error.js';
import { readTarFile } from './tar.js';
import { readZipFile } from './zip.js';

/**
 * A read-only set of files addressed by `/`-separated relative paths: an extracted folder, a tar(.gz)
 * archive or a zip archive, so readers work the same on "the archive as downloaded" and "the folder I unpacked".
 */
export interface FileTree {
  /** Description for error messages (the folder or archive path). */
  readonly where: string;
  /** All file paths, sorted. */
  paths(): readonly string[];
  read(path: string): Uint8Array;
}

/** A folder on disk (recursive listing). */
export function directoryTree(dir: string): FileTree {
  let cache: string[] | undefined;
  const walk = (d: string, out: string[]) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p, out);
      else if (e.isFile()) out.push(relative(dir, p).split(sep).join('/'));
    }
  };
  return {
    where: dir,
    paths() {
      if (!cache) {
        cache = [];
        walk(dir, cache);
        cache.sort();
      }
      return cache;
    },
    read: (path) => readFileSync(join(dir, ...path.split('/'))),
  };
}

/** A tar or tar.gz archive (held in memory). */
export function tarTree(path: string): FileTree {
  const entries = readTarFile(path);
  const map = new Map(entries.map((e) => [e.name, e.data]));
  const sorted = [...map.keys()].sort();
  return {
    where: path,
    paths: () => sorted,
    read(p) {
      const d = map.get(p);
      if (!d) throw formatError(path, `has no entry '${p}'`);
      return d;
    },
  };
}

/** A zip archive (entries inflated on demand). */
export function zipTree(path: string): FileTree {
  const entries = readZipFile(path);
  const map = new Map(entries.map((e) => [e.name, e]));
  const sorted = [...map.keys()].sort();
  return {
    where: path,
    paths: () => sorted,
    read(p) {
      const e = map.get(p);
      if (!e) throw formatError(path, `has no entry '${p}'`);
      return e.read();
    },
  };
}

/** Opens a folder, `.zip`, `.tar` or `.tar.gz`/`.tgz` by its path. */
export function openFileTree(path: string): FileTree {
  if (!existsSync(path)) throw new ResourceUnavailableError(`${path} does not exist.`, { file: path });
  if (statSync(path).isDirectory()) return directoryTree(path);
  const lower = path.toLowerCase();
  if (lower.endsWith('.zip')) return zipTree(path);
  if (lower.endsWith('.tar') || lower.endsWith('.tar.gz') || lower.endsWith('.tgz')) return tarTree(path);
  throw formatError(path, 'is neither a folder nor a .zip/.tar/.tar.gz archive');
}

/** Several trees seen as one (later trees fill paths missing from earlier ones). */
export function mergeTrees(trees: readonly FileTree[]): FileTree {
  const owner = new Map<string, FileTree>();
  for (const t of trees) for (const p of t.paths()) if (!owner.has(p)) owner.set(p, t);
  const sorted = [...owner.keys()].sort();
  return {
    where: trees.map((t) => t.where).join(' + '),
    paths: () => sorted,
    read: (p) => {
      const t = owner.get(p);
      if (!t) throw formatError(trees.map((x) => x.where).join(' + '), `has no entry '${p}'`);
      return t.read(p);
    },
  };
}
