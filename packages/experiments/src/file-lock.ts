import { mkdirSync } from 'node:fs';
import { basename, dirname } from 'node:path';
import lockfile from 'proper-lockfile';

/** Options of {@link withFileLock}. */
export interface FileLockOptions {
  /** A lock not refreshed for this long belongs to a dead process and is taken over (default 60 000 ms). */
  readonly staleMs?: number;
  /** How often to try again while another process holds the lock (default 1000 ms). */
  readonly retryMs?: number;
  /** Told once when the lock is held by another process. */
  readonly onWait?: () => void;
  /**
   * Told when the lock was lost while `fn` ran (not refreshed in time, e.g. on a machine so loaded that the refresh
   * timer was late, and taken over by another process). `fn` goes on: the two holders do the same work.
   */
  readonly onCompromised?: (err: Error) => void;
}

/**
 * Runs `fn` while holding an inter-process, inter-machine lock on `file` (`<file>.lock`, a directory made
 * atomically, which works on NFS; `proper-lockfile`). The holder refreshes the lock; a holder that died leaves a lock
 * that turns stale after `staleMs` and is taken over; a lock lost while `fn` runs is reported, not fatal. `file`
 * itself need not exist. Used so that two processes that share a model cache never pretrain the same model at the
 * same time: the second waits, then loads the first's.
 */
export async function withFileLock<T>(file: string, fn: () => Promise<T>, options: FileLockOptions = {}): Promise<T> {
  mkdirSync(dirname(file), { recursive: true });
  const stale = options.staleMs ?? 60_000;
  let told = false;
  let compromised = false;
  let release: (() => Promise<void>) | undefined;
  while (!release) {
    try {
      release = await lockfile.lock(file, {
        realpath: false,
        stale,
        update: Math.max(1000, Math.floor(stale / 4)),
        // proper-lockfile's default throws from a timer, which ends the process mid-work
        onCompromised: (err) => {
          compromised = true;
          options.onCompromised?.(err);
        },
      });
    } catch (err) {
      if ((err as { code?: string }).code !== 'ELOCKED') throw err;
      if (!told) options.onWait?.();
      told = true;
      await new Promise((r) => setTimeout(r, options.retryMs ?? 1000));
    }
  }
  try {
    return await fn();
  } finally {
    // a compromised lock is no longer ours to release (it may be another process's now)
    if (!compromised) await release().catch(() => undefined);
  }
}

/**
 * The `lock` of a model cache that processes share: {@link withFileLock}, logging once when it waits for another
 * process's pretraining and when the lock was lost while it pretrained. `who` starts each line (e.g. a model's role).
 */
export function modelCacheLock(log: (line: string) => void, who?: string): <T>(file: string, fn: () => Promise<T>) => Promise<T> {
  const prefix = who ? `${who}: ` : '';
  return (file, fn) =>
    withFileLock(file, fn, {
      onWait: () => log(`${prefix}another process is pretraining ${basename(file)}; waiting for it`),
      onCompromised: () => log(`${prefix}the lock on ${basename(file)} was taken over by another process; both pretrain it`),
    });
}
