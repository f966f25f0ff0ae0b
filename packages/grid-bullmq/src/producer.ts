import { Queue, QueueEvents } from 'bullmq';
import { ConfigError } from '@promptkd/core';
import type { GridCell, GridOutcome, GridQueue } from '@promptkd/experiments';
import { bullConnection, checkRedis, type RedisTarget } from './connection.js';
import { checkGridName, DEFAULT_QUEUE_NAME, fingerprint, jobIdOf, unpackFiles, type GridJobData, type GridJobResult } from './job.js';

/** Where a grid's jobs live: a Redis server, a BullMQ queue name and key prefix. */
export interface QueueLocation {
  readonly redis: RedisTarget;
  /** BullMQ queue name (default `promptkd-grid`): producers and workers must agree. */
  readonly queueName?: string;
  /** BullMQ key prefix (default `bull`). */
  readonly prefix?: string;
}

/** Options of {@link createRedisGridQueue}. */
export interface RedisGridQueueOptions<C> extends QueueLocation {
  /** Grid name: job ids are `<grid>/<cell id>`, so enqueueing the same grid twice adds nothing. */
  readonly grid: string;
  /** Cell kind the workers run (`kiop`, `kdp`, …). */
  readonly kind: string;
  /** promptkd version of this producer; workers of another version refuse the jobs. */
  readonly version: string;
  /** Fingerprint of the kind's config schema; workers with another one refuse the jobs. */
  readonly schemaVersion: string;
  /** The resolved config of a cell (preset and overrides applied), carried by the job for the worker to check. */
  readonly resolve?: (config: C) => unknown;
  /** Attempts per cell before it is marked failed (default 2). */
  readonly attempts?: number;
  /** Wait between attempts in ms (default 2000). */
  readonly backoffMs?: number;
  /** How often `drain` also polls the job states, in ms, besides BullMQ's events (default 2000). */
  readonly pollMs?: number;
  /** Called as each cell finishes, after its files are written under the grid root. */
  readonly onOutcome?: (outcome: GridOutcome<unknown, unknown>) => void;
}

/** Opens a BullMQ queue after checking that Redis answers ({@link checkRedis}: a typed error within 10 s). */
export async function openQueue(location: QueueLocation): Promise<Queue> {
  await checkRedis(location.redis);
  const queue = new Queue(location.queueName ?? DEFAULT_QUEUE_NAME, { connection: bullConnection(location.redis), prefix: location.prefix });
  queue.on('error', () => {}); // reconnects on its own; callers see failures through their commands
  await queue.waitUntilReady();
  return queue;
}

/**
 * A {@link GridQueue} on BullMQ: `enqueue` adds one job per cell (`jobId = <grid>/<cell id>`, idempotent; a
 * failed job is retried; the same id with another config is an error), `drain` waits until every job completed or
 * failed and writes the files each worker sent back (results, metrics, figures) under the grid root as it finishes.
 * `process` does nothing: cells run on workers ({@link startGridWorker}), on this machine or any other.
 * Interrupting the producer loses nothing: jobs stay in Redis and a producer with the same grid re-attaches.
 */
export function createRedisGridQueue<C, R>(options: RedisGridQueueOptions<C>): GridQueue<C, R> {
  checkGridName(options.grid);
  const { grid, kind } = options;
  const attempts = Math.max(1, options.attempts ?? 2);
  let queue: Queue | undefined;
  let events: QueueEvents | undefined;
  let pending: GridCell<C>[] = [];
  let root: string | undefined;

  const open = async (): Promise<{ queue: Queue; events: QueueEvents }> => {
    if (!queue) {
      queue = await openQueue(options);
      events = new QueueEvents(queue.name, { connection: bullConnection(options.redis), prefix: options.prefix });
      events.on('error', () => {});
      await events.waitUntilReady();
    }
    return { queue, events: events! };
  };

  return {
    name: `BullMQ queue '${options.queueName ?? DEFAULT_QUEUE_NAME}' on ${options.redis.display}, grid '${grid}'`,
    process() {
      // cells run on workers
    },
    async enqueue(cells, context) {
      root = context.root;
      const { queue: q } = await open();
      const existing = await Promise.all(cells.map((c) => q.getJob(jobIdOf(grid, c.id))));
      const toAdd: { name: string; data: GridJobData<C>; opts: { jobId: string; attempts: number; backoff: { type: 'fixed'; delay: number } } }[] = [];
      for (const [i, cell] of cells.entries()) {
        const jobId = jobIdOf(grid, cell.id);
        const job = existing[i];
        if (job) {
          const data = job.data as GridJobData<C>;
          if (data.kind !== kind || fingerprint(data.config) !== fingerprint(cell.config)) {
            throw new ConfigError(
              `Grid '${grid}' already has a cell '${cell.id}' with another config in the queue. Use another grid name (--grid), ` +
                `or remove the old grid first (promptkd grid remove --grid ${grid}).`,
              { field: 'grid', value: grid, cell: cell.id },
            );
          }
          if ((await job.getState()) === 'failed') await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
        } else {
          toAdd.push({
            name: kind,
            data: {
              kind,
              grid,
              cell: cell.id,
              config: cell.config,
              ...(options.resolve ? { resolved: options.resolve(cell.config) } : {}),
              version: options.version,
              schemaVersion: options.schemaVersion,
            },
            opts: { jobId, attempts, backoff: { type: 'fixed', delay: options.backoffMs ?? 2000 } },
          });
        }
        if (!pending.some((p) => p.id === cell.id)) pending.push(cell);
      }
      if (toAdd.length > 0) await q.addBulk(toAdd);
    },
    async drain() {
      const { queue: q, events: ev } = await open();
      const cells = pending;
      pending = [];
      const byJob = new Map(cells.map((c) => [jobIdOf(grid, c.id), c]));
      const outcomes = new Map<string, GridOutcome<C, R>>();
      const settling = new Set<string>();
      if (cells.length === 0) return [];
      return await new Promise<GridOutcome<C, R>[]>((resolve, reject) => {
        let finished = false;
        let polling = false;
        const finish = (err?: unknown) => {
          if (finished) return;
          finished = true;
          clearInterval(timer);
          ev.off('completed', onEvent);
          ev.off('failed', onEvent);
          if (err) reject(err);
          else resolve(cells.map((c) => outcomes.get(jobIdOf(grid, c.id))!));
        };
        const settle = async (jobId: string): Promise<void> => {
          const cell = byJob.get(jobId);
          if (!cell || outcomes.has(jobId) || settling.has(jobId)) return;
          settling.add(jobId);
          try {
            // state first, then the job: a job read before its state could predate its return value
            const state = await q.getJobState(jobId);
            const job = state === 'completed' || state === 'failed' || state === 'unknown' ? await q.getJob(jobId) : undefined;
            let outcome: GridOutcome<C, R> | undefined;
            if (state === 'unknown' || (state !== 'completed' && state !== 'failed')) {
              if (state === 'unknown') outcome = { cell, status: 'failed', error: new Error(`job ${jobId} was removed from the queue before it finished`), durationMs: 0 };
            } else if (!job) {
              outcome = { cell, status: 'failed', error: new Error(`job ${jobId} was removed from the queue before it finished`), durationMs: 0 };
            } else if (state === 'completed') {
              const value = job.returnvalue as unknown as GridJobResult<R>;
              if (root !== undefined) unpackFiles(root, value.files);
              outcome = { cell, status: 'done', result: value.result, durationMs: value.seconds * 1000 };
            } else {
              outcome = { cell, status: 'failed', error: new Error(`cell ${cell.id} failed after ${job.attemptsMade} attempt(s): ${job.failedReason}`), durationMs: 0 };
            }
            if (outcome) {
              outcomes.set(jobId, outcome);
              options.onOutcome?.(outcome as GridOutcome<unknown, unknown>);
              if (outcomes.size === byJob.size) finish();
            }
          } finally {
            settling.delete(jobId);
          }
        };
        const onEvent = ({ jobId }: { jobId: string }) => void settle(jobId).catch(finish);
        const poll = async () => {
          if (polling || finished) return;
          polling = true;
          try {
            // one round trip for all states (commands sent together), then only finished jobs are read
            const ids = [...byJob.keys()].filter((id) => !outcomes.has(id));
            const states = await Promise.all(ids.map((id) => q.getJobState(id)));
            for (const [i, id] of ids.entries()) {
              if (!finished && (states[i] === 'completed' || states[i] === 'failed' || states[i] === 'unknown')) await settle(id);
            }
          } catch (err) {
            finish(err);
          } finally {
            polling = false;
          }
        };
        ev.on('completed', onEvent);
        ev.on('failed', onEvent);
        const timer = setInterval(() => void poll(), options.pollMs ?? 2000);
        void poll();
      });
    },
    async close() {
      await events?.close();
      await queue?.close();
      events = undefined;
      queue = undefined;
    },
  };
}
