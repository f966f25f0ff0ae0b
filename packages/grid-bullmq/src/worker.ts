import { hostname } from 'node:os';
import * as path from 'node:path';
import { DelayedError, Worker, type Job } from 'bullmq';
import { bullConnection, checkRedis, redact } from './connection.js';
import { DEFAULT_QUEUE_NAME, fingerprint, packFolders, type GridJobData, type GridJobResult, type PackLimits } from './job.js';
import type { QueueLocation } from './producer.js';

/** What a cell of one kind needs on the worker. */
export interface GridCellContext {
  /** Grid root on this worker: `<shared dir>/runs/<grid>` with a shared folder, else `<work dir>/<grid>`. */
  readonly root: string;
  /** `<root>/<cell>`. */
  readonly runDir: string;
  readonly grid: string;
  readonly cell: string;
  /** The shared folder (`--shared-dir`), if any: pretrained models go to `<sharedDir>/models`. */
  readonly sharedDir: string | undefined;
  readonly log: (line: string) => void;
}

/**
 * A kind of grid cell a worker can run (KiOP cell, KDP group, …). `schemaVersion` is compared with the job's;
 * `resolve` (when given) must turn the job's config into the same resolved config as the producer's.
 */
export interface GridCellKind<C = never, R = unknown> {
  readonly name: string;
  /** Fingerprint of the config schema (e.g. a hash of its JSON Schema). */
  readonly schemaVersion: string;
  readonly resolve?: (config: C) => unknown;
  /** Folders under the grid root the cell writes (default: the cell id). Their small files go back to the producer. */
  readonly outputs?: (config: C, cell: string) => readonly string[];
  /** Runs the cell (resuming from its run folder when it holds a checkpoint). */
  readonly run: (config: C, context: GridCellContext) => Promise<R>;
}

/** Options of {@link startGridWorker}. */
export interface GridWorkerOptions extends QueueLocation {
  /** promptkd version of this worker: jobs of another version are refused and left for another worker. */
  readonly version: string;
  /** The cell kinds this worker runs (e.g. KiOP and KDP cells); a job's config is checked by its kind before `run`. */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- kinds have different config types and `run` takes its own (contravariant), so no common type fits
  readonly kinds: readonly GridCellKind<any, unknown>[];
  /** Cells at a time (default 1). */
  readonly concurrency?: number;
  /** Local folder for run folders when there is no shared folder. */
  readonly workDir: string;
  /** Shared folder (e.g. NFS) for run folders and checkpoints, so a retried cell resumes on another machine. */
  readonly sharedDir?: string;
  /** Worker name shown by `grid status` (default `<host>:<pid>`). */
  readonly name?: string;
  readonly log?: (line: string) => void;
  /** How long a running cell's lock lasts without renewal (default 30 000 ms): a dead worker's cell is re-queued after about this. */
  readonly lockDurationMs?: number;
  /** How often workers look for stalled cells (default: the lock duration). */
  readonly stalledIntervalMs?: number;
  /** How many times a cell may be re-queued after its worker died before it is marked failed (default 2). */
  readonly maxStalledCount?: number;
  /** How long a refused job waits before a worker looks at it again (default 5000 ms). */
  readonly refuseDelayMs?: number;
  readonly pack?: PackLimits;
}

/** A running worker. */
export interface GridWorker {
  readonly name: string;
  readonly worker: Worker;
  /** Stops taking cells; waits for the running ones unless `force` (then they go back to the queue when their lock expires). */
  close(force?: boolean): Promise<void>;
}

/** Why this worker will not run a job, or undefined when it will. */
function refusal(data: GridJobData, kind: GridCellKind<never, unknown> | undefined, version: string, known: readonly string[]): string | undefined {
  if (!kind) return `this worker runs no '${data.kind}' cells (it runs ${known.join(', ')})`;
  if (data.version !== version) return `the job was made by promptkd ${data.version} and this worker runs promptkd ${version}`;
  if (data.schemaVersion !== kind.schemaVersion) {
    return `the ${data.kind} config schema differs (job ${data.schemaVersion}, this worker ${kind.schemaVersion})`;
  }
  if (kind.resolve && data.resolved !== undefined) {
    let mine: unknown;
    try {
      mine = JSON.parse(JSON.stringify(kind.resolve(data.config as never)));
    } catch (err) {
      return `this worker cannot resolve the cell's config: ${(err as Error).message}`;
    }
    if (fingerprint(mine) !== fingerprint(data.resolved)) return 'this worker resolves the cell to another config than the producer did (presets differ)';
  }
  return undefined;
}

/**
 * Starts a BullMQ worker that runs grid cells of the given kinds, `concurrency` at a time. Before running a job it
 * checks the promptkd version, the config-schema fingerprint and the resolved config; on a mismatch it says why,
 * writes it to the job's log and moves the job back to the delayed set for another worker (BullMQ's
 * `moveToDelayed` + `DelayedError`: no attempt is used). A finished cell returns its result and the small files of
 * its run folder(s) through the queue. Cells of a worker that dies are re-queued by BullMQ's stalled-job check.
 * Throws `QueueConnectionError` / `QueueAuthError` within 10 s when Redis cannot be used.
 */
export async function startGridWorker(options: GridWorkerOptions): Promise<GridWorker> {
  await checkRedis(options.redis);
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const name = options.name ?? `${hostname()}:${process.pid}`;
  const kinds = new Map(options.kinds.map((k) => [k.name, k]));
  const known = [...kinds.keys()];
  const refused = new Set<string>();
  const base = options.sharedDir ? path.join(options.sharedDir, 'runs') : options.workDir;
  const lockDuration = options.lockDurationMs ?? 30_000;

  const processor = async (job: Job, token?: string): Promise<GridJobResult> => {
    const data = job.data as GridJobData;
    const kind = kinds.get(data.kind);
    const why = refusal(data, kind, options.version, known);
    if (why) {
      if (!refused.has(job.id!)) log(`refusing ${job.id}: ${why}; leaving it for another worker`);
      refused.add(job.id!);
      await job.log(`refused by ${name}: ${why}`);
      await job.moveToDelayed(Date.now() + (options.refuseDelayMs ?? 5000), token);
      throw new DelayedError();
    }
    const root = path.join(base, data.grid);
    const runDir = path.join(root, ...data.cell.split('/'));
    log(`start ${job.id} (attempt ${job.attemptsMade + 1}${job.stalledCounter ? `, re-queued ${job.stalledCounter}×` : ''})`);
    const t0 = performance.now();
    const result = await kind!.run(data.config as never, { root, runDir, grid: data.grid, cell: data.cell, sharedDir: options.sharedDir, log });
    const packed = packFolders(root, kind!.outputs?.(data.config as never, data.cell) ?? [data.cell], options.pack);
    const seconds = (performance.now() - t0) / 1000;
    log(`done ${job.id} in ${seconds.toFixed(1)} s`);
    return { result, ...packed, worker: name, seconds };
  };

  const worker = new Worker(options.queueName ?? DEFAULT_QUEUE_NAME, processor, {
    connection: bullConnection(options.redis),
    prefix: options.prefix,
    concurrency: Math.max(1, Math.floor(options.concurrency ?? 1)),
    name,
    lockDuration,
    stalledInterval: options.stalledIntervalMs ?? lockDuration,
    maxStalledCount: options.maxStalledCount ?? 2,
    autorun: false,
  });
  let lastError = '';
  let lastErrorAt = 0;
  worker.on('error', (err) => {
    const message = redact(String(err?.message ?? err));
    const now = Date.now();
    if (message !== lastError || now - lastErrorAt > 10_000) log(`queue connection: ${message} (retrying)`);
    lastError = message;
    lastErrorAt = now;
  });
  worker.on('failed', (job, err) => {
    if (job && !(err instanceof DelayedError) && err?.name !== 'DelayedError') log(`failed ${job.id} (attempt ${job.attemptsMade}): ${redact(err.message)}`);
  });
  void worker.run();
  await worker.waitUntilReady();
  log(`worker ${name}: ${known.join(', ')} cells, ${options.concurrency ?? 1} at a time, from queue '${worker.name}' on ${options.redis.display}${options.sharedDir ? `, shared folder ${options.sharedDir}` : ''}`);
  return {
    name,
    worker,
    close: (force?: boolean) => worker.close(force),
  };
}
