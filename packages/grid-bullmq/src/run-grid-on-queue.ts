import { basename } from 'node:path';
import { runGrid, type GridCell, type GridOutcome } from '@promptkd/experiments';
import { PROMPTKD_VERSION, redisFromCli, type QueueCliOptions } from './cli-options.js';
import { createRedisGridQueue } from './producer.js';
import type { GridCellKind } from './worker.js';

/** Queue options of a grid command: the parsed {@link QUEUE_OPTION_FLAGS} plus `--grid`, `--detach` and attempts. */
export interface QueueGridOptions extends QueueCliOptions {
  /** Grid name (job ids `<grid>/<cell>`); default: the grid folder's name. */
  readonly grid?: string;
  /** Enqueue and return without waiting. */
  readonly detach?: boolean;
  /** Attempts per cell (default 2). */
  readonly attempts?: number;
}

/** Options of {@link runGridOnQueue}. */
export interface RunGridOnQueueOptions<C, R> {
  /** The cell kind the workers run (its name, schema fingerprint and `resolve` go into each job). */
  readonly kind: GridCellKind<C, R>;
  /** The grid's cells (`id` = the cell's folder under `root`). */
  readonly cells: readonly GridCell<C>[];
  /** Grid root on this machine: finished cells' files are written under it. */
  readonly root: string;
  readonly queue: QueueGridOptions;
  readonly log: (line: string) => void;
  /** What one cell is called in the log lines (default `cells`; e.g. `groups`). */
  readonly noun?: string;
  /** The promptkd version the jobs carry (default {@link PROMPTKD_VERSION}; workers of another version refuse them). */
  readonly version?: string;
  /** How often the producer polls job states in ms (default 2000). */
  readonly pollMs?: number;
}

/**
 * Runs a grid on BullMQ workers (`promptkd worker`, {@link startGridWorker}): enqueues the cells that have no results
 * under `root` (idempotent: job ids `<grid>/<cell id>`), then, unless `queue.detach`, waits and writes each finished
 * cell's files (results, metrics, figures) under `root`, logging one line per outcome. Returns the outcomes in cell
 * order, or undefined when detached. The queue is closed before it returns.
 */
export async function runGridOnQueue<C, R>(options: RunGridOnQueueOptions<C, R>): Promise<GridOutcome<C, R>[] | undefined> {
  const { kind, cells, root, queue: o, log } = options;
  const noun = options.noun ?? 'cells';
  const grid = o.grid ?? basename(root);
  const queue = createRedisGridQueue<C, R>({
    redis: redisFromCli(o),
    queueName: o.queueName,
    grid,
    kind: kind.name,
    version: options.version ?? PROMPTKD_VERSION,
    schemaVersion: kind.schemaVersion,
    ...(kind.resolve ? { resolve: kind.resolve } : {}),
    ...(o.attempts !== undefined ? { attempts: o.attempts } : {}),
    ...(options.pollMs !== undefined ? { pollMs: options.pollMs } : {}),
    onOutcome: (x) => log(`${x.status}: ${x.cell.id}${x.status === 'failed' ? ` (${(x.error as Error).message})` : ''}`),
  });
  try {
    if (o.detach) {
      await queue.enqueue(cells, { root });
      log(`grid '${grid}': ${cells.length} ${noun} on ${queue.name}`);
      return undefined;
    }
    log(`grid '${grid}': ${cells.length} ${noun} on ${queue.name}; waiting for workers (promptkd worker)`);
    return await runGrid(cells, () => Promise.reject(new Error(`${kind.name} ${noun} of a queued grid run on workers`)), { root, queue, continueOnError: true });
  } finally {
    await queue.close();
  }
}
