import { formatError } from './format-error.js';
import { parseTar } from './tar.js';
import { parseZip } from './zip.js';
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

/** A tar or tar.gz archive held in memory (`where` names it in errors). */
export function tarTreeFromBytes(bytes: Uint8Array, where: string): FileTree {
  const map = new Map(parseTar(bytes, where).map((e) => [e.name, e.data]));
  const sorted = [...map.keys()].sort();
  return {
    where,
    paths: () => sorted,
    read(p) {
      const d = map.get(p);
      if (!d) throw formatError(where, `has no entry '${p}'`);
      return d;
    },
  };
}

/** A zip archive held in memory (entries inflated on demand; `where` names it in errors). */
export function zipTreeFromBytes(bytes: Uint8Array, where: string): FileTree {
  const map = new Map(parseZip(bytes, where).map((e) => [e.name, e]));
  const sorted = [...map.keys()].sort();
  return {
    where,
    paths: () => sorted,
    read(p) {
      const e = map.get(p);
      if (!e) throw formatError(where, `has no entry '${p}'`);
      return e.read();
    },
  };
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
