import { randomBytes } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StorageError } from './errors.js';

/** Writes `data` to `file` and flushes it to the device (open, write, fsync, close). */
export type WriteFileFn = (file: string, data: Uint8Array | string) => Promise<void>;

/** Options of {@link writeFileAtomic}. The hooks exist so tests can inject failures and crashes. */
export interface AtomicWriteOptions {
  /** Writes the temporary file (default: {@link writeFileDurable}). Inject a failing one to test ENOSPC/EACCES. */
  readonly writeFile?: WriteFileFn;
  /** Called after the temp file is complete and before the rename (tests simulate a crash here by throwing). */
  readonly beforeRename?: (tempFile: string, file: string) => void | Promise<void>;
}

/** Marker in temp-file names; files containing it are never read as data and are swept by {@link removeStaleTempFiles}. */
export const TEMP_MARKER = '.tmp-';

const STORAGE_CODES: Record<string, string> = {
  ENOSPC: 'the disk is full',
  EDQUOT: 'the disk quota is exceeded',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'the file system is read-only',
};

/** Default {@link WriteFileFn}: write then fsync, so a rename afterwards publishes complete data only. */
export const writeFileDurable: WriteFileFn = async (file, data) => {
  const handle = await fs.promises.open(file, 'w');
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
};

/**
 * Converts a disk-full / permission error into a {@link StorageError} naming the file; returns other errors
 * unchanged.
 */
export function toStorageError(err: unknown, file: string, what: string): unknown {
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && code in STORAGE_CODES) {
    return new StorageError(
      `Could not write ${what} '${file}': ${STORAGE_CODES[code]} (${code}). Nothing already on disk was changed; ` +
        (code === 'ENOSPC' || code === 'EDQUOT'
          ? 'free some space (or point the run at another disk) and resume.'
          : 'fix the permissions of the directory (or choose another output directory) and resume.'),
      { file, errno: code },
      { cause: err },
    );
  }
  return err;
}

async function fsyncDir(dir: string): Promise<void> {
  try {
    const h = await fs.promises.open(dir, 'r');
    try {
      await h.sync();
    } finally {
      await h.close();
    }
  } catch {
    // Directory fsync is not supported everywhere (e.g. Windows); the rename is still atomic.
  }
}

/**
 * Atomically replaces `file` with `data`: writes a temp file in the same directory, fsyncs it, renames it
 * over `file` and fsyncs the directory. Readers see either the old complete file or the new complete file.
 * Disk-full and permission errors become {@link StorageError}; the old file is untouched on any failure.
 */
export async function writeFileAtomic(file: string, data: Uint8Array | string, options: AtomicWriteOptions = {}): Promise<void> {
  const dir = path.dirname(file);
  const temp = path.join(dir, `${path.basename(file)}${TEMP_MARKER}${process.pid}-${randomBytes(4).toString('hex')}`);
  const write = options.writeFile ?? writeFileDurable;
  let renamed = false;
  try {
    await write(temp, data);
    if (options.beforeRename) await options.beforeRename(temp, file);
    await fs.promises.rename(temp, file);
    renamed = true;
    await fsyncDir(dir);
  } catch (err) {
    if (!renamed) await fs.promises.rm(temp, { force: true }).catch(() => undefined);
    throw toStorageError(err, file, 'file');
  }
}

/** Synchronous variant of {@link writeFileAtomic} for small files (JSON pointers, results). */
export function writeFileAtomicSync(file: string, data: Uint8Array | string): void {
  const dir = path.dirname(file);
  const temp = path.join(dir, `${path.basename(file)}${TEMP_MARKER}${process.pid}-${randomBytes(4).toString('hex')}`);
  let renamed = false;
  try {
    const fd = fs.openSync(temp, 'w');
    try {
      fs.writeFileSync(fd, data);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
    fs.renameSync(temp, file);
    renamed = true;
  } catch (err) {
    if (!renamed) fs.rmSync(temp, { force: true });
    throw toStorageError(err, file, 'file');
  }
}

/** Removes temp files left behind by a crashed writer in `dir` (only names containing {@link TEMP_MARKER}). */
export async function removeStaleTempFiles(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return [];
  }
  const stale = names.filter((n) => n.includes(TEMP_MARKER));
  await Promise.all(stale.map((n) => fs.promises.rm(path.join(dir, n), { force: true }).catch(() => undefined)));
  return stale;
}
