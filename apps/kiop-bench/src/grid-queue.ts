import { basename, join } from 'node:path';
import { z } from 'zod';
import { runGrid, type GridOutcome } from '@promptkd/experiments';
import {
  createRedisGridQueue,
  fingerprint,
  PROMPTKD_VERSION,
  redisFromCli,
  type GridCellKind,
  type QueueCliOptions,
} from '@promptkd/grid-bullmq';
import { kiopConfigSchema } from '@promptkd/kiop';
import { benchPresetSchema } from './bench-presets.js';
import { cellId, resolveCell, runCellInChild, type KiopCellSpec } from './cells.js';

/**
 * KiOP cells on a `promptkd worker`: each runs in a child process (`promptkd kiop run`) in the worker's grid
 * folder; with a shared folder, pretrained hosts and sources are cached in `<shared>/models`.
 */
export const kiopCellKind: GridCellKind<KiopCellSpec, string> = {
  name: 'kiop',
  schemaVersion: fingerprint([z.toJSONSchema(kiopConfigSchema, { unrepresentable: 'any' }), z.toJSONSchema(benchPresetSchema, { unrepresentable: 'any' })]),
  resolve: (spec) => resolveCell(spec),
  async run(spec, ctx) {
    await runCellInChild(spec, ctx.root, { detached: true, ...(ctx.sharedDir ? { env: { PROMPTKD_MODELS: join(ctx.sharedDir, 'models') } } : {}) });
    return cellId(spec);
  },
};

/** Options of {@link runKiopGridOnQueue}. */
export interface QueueGridOptions extends QueueCliOptions {
  /** Grid name (job ids `<grid>/<cell>`); default: the grid folder's name. */
  readonly grid?: string;
  /** Enqueue and return without waiting. */
  readonly detach?: boolean;
  /** Attempts per cell (default 2). */
  readonly attempts?: number;
}

/**
 * Runs a KiOP grid on BullMQ workers: enqueues the cells that have no results under `root` (idempotent), then, unless
 * `detach`, waits and writes each finished cell's run folder (results, metrics, prompt image) under `root`.
 * Returns the outcomes, or undefined when detached.
 */
export async function runKiopGridOnQueue(cells: readonly KiopCellSpec[], root: string, o: QueueGridOptions, log: (line: string) => void) {
  const grid = o.grid ?? basename(root);
  const queue = createRedisGridQueue<KiopCellSpec, string>({
    redis: redisFromCli(o),
    queueName: o.queueName,
    grid,
    kind: kiopCellKind.name,
    version: PROMPTKD_VERSION,
    schemaVersion: kiopCellKind.schemaVersion,
    resolve: kiopCellKind.resolve,
    attempts: o.attempts,
    onOutcome: (x: GridOutcome<unknown, unknown>) => log(`${x.status}: ${x.cell.id}${x.status === 'failed' ? ` (${(x.error as Error).message})` : ''}`),
  });
  const gridCells = cells.map((c) => ({ id: cellId(c), config: c }));
  try {
    if (o.detach) {
      await queue.enqueue(gridCells, { root });
      log(`grid '${grid}': ${gridCells.length} cells on ${queue.name}`);
      return undefined;
    }
    log(`grid '${grid}': ${gridCells.length} cells on ${queue.name}; waiting for workers (promptkd worker)`);
    return await runGrid(gridCells, () => Promise.reject(new Error('KiOP cells of a queued grid run on workers')), { root, queue, continueOnError: true });
  } finally {
    await queue.close();
  }
}
