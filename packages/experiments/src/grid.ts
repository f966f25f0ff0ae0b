import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '@promptkd/core';
import { openRunFolder } from './run-folder.js';

/** One cell of a grid: `id` is also its run-folder name under the grid root (e.g. `mnist__fmnist__kiop-b__s0`). */
export interface GridCell<C = unknown> {
  readonly id: string;
  readonly config: C;
}

/** What {@link runGrid} tells a cell. */
export interface GridCellContext {
  /** Position of the cell in the grid (0-based) and the grid size. */
  readonly index: number;
  readonly total: number;
  /** `root/<id>` when the grid has a root: create the cell's run folder there (`createRunFolder(root, {name: id})`). */
  readonly runDir: string | undefined;
}

/** Runs one cell and returns its results (also write them with `run.writeResults` so a resume can skip it). */
export type RunCell<C, R> = (cell: GridCell<C>, context: GridCellContext) => Promise<R>;

/** Outcome of one cell. `skipped`: results were already on disk (resume); `cancelled`: not started after a failure. */
export interface GridOutcome<C, R> {
  readonly cell: GridCell<C>;
  readonly status: 'done' | 'skipped' | 'failed' | 'cancelled';
  readonly result?: R;
  readonly error?: unknown;
  readonly durationMs: number;
}

/**
 * Where grid cells run. {@link createInProcessQueue} runs them in this process; an adapter for a distributed
 * queue (BullMQ on Redis: `enqueue` → `queue.addBulk` with `jobId = cell.id`; `process` → a `Worker` on every
 * machine; `drain` → `QueueEvents` until every job id completed or failed, results from `job.returnvalue`)
 * implements the same interface so many machines work one grid with results collected in one place.
 */
export interface GridQueue<C, R> {
  readonly name: string;
  /** Registers the function that runs one cell on this process (workers call it; a pure producer may not). */
  process(runCell: RunCell<C, R>): void | Promise<void>;
  /** Schedules cells; idempotent by `cell.id`. */
  enqueue(cells: readonly GridCell<C>[], context: { readonly root: string | undefined }): Promise<void>;
  /** Resolves when every enqueued cell has an outcome; outcomes in enqueue order. */
  drain(): Promise<GridOutcome<C, R>[]>;
  /** Releases connections and workers. */
  close(): Promise<void>;
}

/** Options of {@link createInProcessQueue}. */
export interface InProcessQueueOptions {
  /** Cells run at the same time (default 1; training saturates the cores, so more rarely helps). */
  readonly concurrency?: number;
  /** Keep running other cells after a failure (default false: start no new cell once one failed). */
  readonly continueOnError?: boolean;
  /** Called as each cell finishes (progress, logging). */
  readonly onOutcome?: (outcome: GridOutcome<unknown, unknown>) => void;
}

/** The in-process {@link GridQueue}: a small promise pool. */
export function createInProcessQueue<C, R>(options: InProcessQueueOptions = {}): GridQueue<C, R> {
  const concurrency = Math.max(1, Math.floor(options.concurrency ?? 1));
  let handler: RunCell<C, R> | undefined;
  let cells: GridCell<C>[] = [];
  let root: string | undefined;
  return {
    name: 'in-process',
    process(runCell) {
      handler = runCell;
    },
    async enqueue(newCells, context) {
      root = context.root;
      const seen = new Set(cells.map((c) => c.id));
      for (const c of newCells) {
        if (seen.has(c.id)) continue;
        cells.push(c);
        seen.add(c.id);
      }
    },
    async drain() {
      const run = handler;
      if (!run) throw new ConfigError('GridQueue.drain() called before process(runCell).', { field: 'runCell' });
      const todo = cells;
      cells = [];
      const outcomes: (GridOutcome<C, R> | undefined)[] = new Array(todo.length);
      let next = 0;
      let failed = false;
      const worker = async (): Promise<void> => {
        for (;;) {
          const i = next++;
          if (i >= todo.length) return;
          const cell = todo[i] as GridCell<C>;
          if (failed && !options.continueOnError) {
            outcomes[i] = { cell, status: 'cancelled', durationMs: 0 };
            continue;
          }
          const t0 = performance.now();
          let outcome: GridOutcome<C, R>;
          try {
            const result = await run(cell, { index: i, total: todo.length, runDir: root === undefined ? undefined : path.join(root, ...cell.id.split('/')) });
            outcome = { cell, status: 'done', result, durationMs: performance.now() - t0 };
          } catch (error) {
            failed = true;
            outcome = { cell, status: 'failed', error, durationMs: performance.now() - t0 };
          }
          outcomes[i] = outcome;
          options.onOutcome?.(outcome as GridOutcome<unknown, unknown>);
        }
      };
      await Promise.all(Array.from({ length: Math.min(concurrency, todo.length) }, worker));
      return outcomes as GridOutcome<C, R>[];
    },
    async close() {
      cells = [];
    },
  };
}

/** Options of {@link runGrid}. */
export interface RunGridOptions<C, R> extends InProcessQueueOptions {
  /** Grid root; cell `id` is its run folder `root/<id>`. Needed for `resume`. */
  readonly root?: string;
  /** Skip cells whose run folder already has `results.json`, reusing those results (default true with a root). */
  readonly resume?: boolean;
  /** Another queue (e.g. a BullMQ adapter); default {@link createInProcessQueue} with `concurrency`. */
  readonly queue?: GridQueue<C, R>;
  /** Receives a message when a stored result cannot be read and the cell is re-run (default `console.warn`). */
  readonly warn?: (message: string) => void;
}

/**
 * Runs every cell of a grid and returns the outcomes in cell order. With a `root` and `resume` (default),
 * cells whose run folder has `results.json` are not run again: their stored results come back as `skipped`.
 * Unless `continueOnError`, the first failure stops new cells from starting and is re-thrown once the
 * running ones finish (the outcomes of finished cells are already on disk).
 */
export async function runGrid<C, R>(cells: readonly GridCell<C>[], runCell: RunCell<C, R>, options: RunGridOptions<C, R> = {}): Promise<GridOutcome<C, R>[]> {
  const ids = new Set<string>();
  for (const c of cells) {
    if (ids.has(c.id)) throw new ConfigError(`Grid cell id '${c.id}' appears twice; ids name run folders and must be unique.`, { field: 'id', value: c.id });
    if (!/^[A-Za-z0-9_=+-][A-Za-z0-9._=+-]*(\/[A-Za-z0-9_=+-][A-Za-z0-9._=+-]*)*$/.test(c.id)) {
      throw new ConfigError(`Grid cell id '${c.id}' is not a safe folder name (letters, digits, ._=+- and '/').`, { field: 'id', value: c.id });
    }
    ids.add(c.id);
  }
  const warn = options.warn ?? ((m: string) => console.warn(m));
  const resume = options.resume ?? options.root !== undefined;
  const stored = new Map<string, R>();
  if (resume && options.root !== undefined) {
    for (const c of cells) {
      const dir = path.join(options.root, ...c.id.split('/'));
      if (!fs.existsSync(path.join(dir, 'results.json'))) continue;
      try {
        stored.set(c.id, openRunFolder(dir).readResults<R>() as R);
      } catch (err) {
        warn(`Grid cell '${c.id}': stored results unreadable (${(err as Error).message}); running it again.`);
      }
    }
  }
  const queue = options.queue ?? createInProcessQueue<C, R>(options);
  const todo = cells.filter((c) => !stored.has(c.id));
  let ran: GridOutcome<C, R>[] = [];
  try {
    // Cells see their position in the whole grid, not in the queue's share of it.
    const position = new Map(cells.map((c, i) => [c.id, i]));
    await queue.process((cell, ctx) => runCell(cell, { ...ctx, index: position.get(cell.id) ?? ctx.index, total: cells.length }));
    if (todo.length > 0) {
      await queue.enqueue(todo, { root: options.root });
      ran = await queue.drain();
    }
  } finally {
    if (!options.queue) await queue.close();
  }
  const byId = new Map(ran.map((o) => [o.cell.id, o]));
  const outcomes = cells.map((c): GridOutcome<C, R> => {
    if (stored.has(c.id)) {
      const skipped: GridOutcome<C, R> = { cell: c, status: 'skipped', result: stored.get(c.id) as R, durationMs: 0 };
      return skipped;
    }
    return byId.get(c.id) ?? { cell: c, status: 'cancelled', durationMs: 0 };
  });
  for (const o of outcomes) if (o.status === 'skipped') options.onOutcome?.(o as GridOutcome<unknown, unknown>);
  const firstFailure = outcomes.find((o) => o.status === 'failed');
  if (firstFailure && !options.continueOnError) throw firstFailure.error;
  return outcomes;
}
