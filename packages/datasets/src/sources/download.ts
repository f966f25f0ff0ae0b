import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import { ResourceUnavailableError } from '@promptkd/core';
import { formatError } from '../readers/format-error.js';

/** The subset of the WHATWG `fetch` API the downloader uses (inject a fake in tests). */
export type FetchLike = (url: string) => Promise<{
  readonly ok: boolean;
  readonly status: number;
  readonly statusText?: string;
  arrayBuffer(): Promise<ArrayBuffer>;
}>;

/** One downloadable file of a dataset. */
export interface RemoteFile {
  /** File name inside the dataset's cache folder, e.g. `train-images-idx3-ubyte.gz`. */
  readonly file: string;
  /** Official download location. */
  readonly url: string;
  /** Expected SHA-256 (hex) of the downloaded bytes; preferred. */
  readonly sha256?: string;
  /** Expected MD5 (hex), used only when no SHA-256 is recorded (the publisher only lists MD5). */
  readonly md5?: string;
  /** Approximate size in bytes (documentation and progress only). */
  readonly bytes?: number;
}

/** Options shared by everything that may download. */
export interface DownloadOptions {
  /** Never touch the network; a missing file raises {@link ResourceUnavailableError}. */
  readonly offline?: boolean;
  /** Fetch implementation; defaults to the global `fetch`. Tests inject a fake. */
  readonly fetch?: FetchLike;
}

/** Hex digest of `bytes`. */
export function digest(algorithm: 'sha256' | 'md5', bytes: Uint8Array): string {
  return createHash(algorithm).update(bytes).digest('hex');
}

/** Throws a DataFormatError when `bytes` do not match the checksum recorded for `remote`. */
export function verifyChecksum(remote: RemoteFile, bytes: Uint8Array, where: string): void {
  const algorithm = remote.sha256 ? 'sha256' : remote.md5 ? 'md5' : undefined;
  if (!algorithm) return;
  const expected = (remote.sha256 ?? remote.md5 ?? '').toLowerCase();
  const actual = digest(algorithm, bytes);
  if (actual !== expected) {
    throw formatError(
      where,
      `${algorithm.toUpperCase()} mismatch (expected ${expected}, got ${actual}) for ${remote.url}`,
      'The download is corrupt or the file was replaced; delete it and download again.',
    );
  }
}

function unavailable(remote: RemoteFile, dest: string, why: string, cause?: unknown): ResourceUnavailableError {
  return new ResourceUnavailableError(
    `${remote.file} is not available (${why}). Download ${remote.url} and put it at ${dest}` +
      ' (or set PROMPTKD_DATA to a folder that has it).',
    { file: dest, url: remote.url, name: remote.file },
    cause === undefined ? undefined : { cause },
  );
}

/** Writes `bytes` to `dest` atomically: a temporary file in the same folder, then a rename. */
export function writeFileAtomic(dest: string, bytes: Uint8Array): void {
  mkdirSync(dirname(dest), { recursive: true });
  const tmp = `${dest}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, dest);
  } finally {
    rmSync(tmp, { force: true });
  }
}

/**
 * Makes sure `remote` exists at `dest`: returns at once when the file is there; otherwise downloads it
 * (unless `offline`), verifies the checksum and writes it atomically.
 *
 * @throws ResourceUnavailableError when offline or the download fails (names the file, URL and destination)
 * @throws DataFormatError when the downloaded bytes do not match the recorded checksum (nothing is written)
 */
export async function ensureFile(remote: RemoteFile, dest: string, options: DownloadOptions = {}): Promise<string> {
  if (existsSync(dest)) return dest;
  if (options.offline) throw unavailable(remote, dest, 'offline mode, file not in the cache');
  const fetchFn: FetchLike | undefined = options.fetch ?? (globalThis.fetch as FetchLike | undefined);
  if (!fetchFn) throw unavailable(remote, dest, 'no fetch implementation in this runtime');
  let bytes: Uint8Array;
  try {
    const res = await fetchFn(remote.url);
    if (!res.ok) throw new Error(`HTTP ${res.status}${res.statusText ? ` ${res.statusText}` : ''}`);
    bytes = new Uint8Array(await res.arrayBuffer());
  } catch (e) {
    throw unavailable(remote, dest, `download failed: ${e instanceof Error ? e.message : String(e)}`, e);
  }
  verifyChecksum(remote, bytes, `${basename(dest)} (downloaded from ${remote.url})`);
  writeFileAtomic(dest, bytes);
  return dest;
}
