import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { ResourceUnavailableError } from '@promptkd/core';
import { tarTreeFromBytes, zipTreeFromBytes, type FileTree } from './file-tree.js';
import { formatError } from './format-error.js';

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
  return tarTreeFromBytes(readFileSync(path), path);
}

/** A zip archive (entries inflated on demand). */
export function zipTree(path: string): FileTree {
  return zipTreeFromBytes(readFileSync(path), path);
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
