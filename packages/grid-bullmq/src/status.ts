import type { Job, JobType, Queue } from 'bullmq';
import { openQueue, type QueueLocation } from './producer.js';
import { unpackFiles, type GridJobData, type GridJobResult } from './job.js';

/** State of one cell as `promptkd grid status` shows it. */
export interface CellStatus {
  readonly grid: string;
  readonly cell: string;
  readonly kind: string;
  readonly state: 'done' | 'running' | 'waiting' | 'failed';
  /** The worker running it (running) or that ran it (done). */
  readonly worker?: string;
  /** Attempts made (BullMQ's `attemptsMade`: the finished one included; refusals not counted). */
  readonly attempts: number;
  /** Why it failed (failed), or the last refusal or retry note (waiting). */
  readonly note?: string;
  readonly seconds?: number;
}

const ALL_TYPES: JobType[] = ['active', 'waiting', 'prioritized', 'delayed', 'waiting-children', 'failed', 'completed'];
const STATE_OF: Record<string, CellStatus['state']> = {
  active: 'running',
  waiting: 'waiting',
  prioritized: 'waiting',
  delayed: 'waiting',
  'waiting-children': 'waiting',
  failed: 'failed',
  completed: 'done',
};

/**
 * The jobs of `grid` with their states. A job can move between BullMQ's lists while they are read one after the
 * other, so the ids come from two listings, and each job's state is then read on its own (state first, then the job).
 */
async function jobsOf(location: QueueLocation, grid: string | undefined, use: (jobs: { state: CellStatus['state']; job: Job }[], queue: Queue) => Promise<void>): Promise<void> {
  const queue = await openQueue(location);
  try {
    const ids = new Set<string>();
    for (let pass = 0; pass < 2; pass++) {
      for (const job of (await queue.getJobs(ALL_TYPES, 0, -1, true)) as (Job | undefined)[]) {
        const data = job?.data as GridJobData | undefined;
        if (job?.id && data?.grid && (grid === undefined || data.grid === grid)) ids.add(job.id);
      }
    }
    const found: { state: CellStatus['state']; job: Job }[] = [];
    for (const id of ids) {
      const state = STATE_OF[await queue.getJobState(id)];
      const job = (await queue.getJob(id)) as Job | undefined;
      if (state && job) found.push({ state, job });
    }
    await use(found, queue);
  } finally {
    await queue.close();
  }
}

/** Every cell of `grid` (or of every grid) in the queue, sorted by grid and cell. */
export async function gridStatus(location: QueueLocation & { readonly grid?: string }): Promise<CellStatus[]> {
  const rows: CellStatus[] = [];
  await jobsOf(location, location.grid, async (found, queue) => {
    for (const { state, job } of found) {
      const data = job.data as GridJobData;
      let note: string | undefined;
      if (state === 'failed') note = job.failedReason;
      else if (state === 'waiting') {
        const { logs } = await queue.getJobLogs(job.id!, -1, -1);
        note = logs[0] ?? (job.failedReason ? `retrying after: ${job.failedReason}` : undefined);
      }
      const value = state === 'done' ? (job.returnvalue as unknown as GridJobResult | undefined) : undefined;
      rows.push({
        grid: data.grid,
        cell: data.cell,
        kind: data.kind,
        state,
        ...(state === 'running' || state === 'done' ? { worker: value?.worker ?? job.processedBy } : {}),
        attempts: job.attemptsMade,
        ...(note ? { note } : {}),
        ...(value ? { seconds: value.seconds } : {}),
      });
    }
  });
  return rows.sort((a, b) => a.grid.localeCompare(b.grid) || a.cell.localeCompare(b.cell));
}

/** Plain-text report of {@link gridStatus}: a count line per grid, then one line per cell. */
export function formatStatus(rows: readonly CellStatus[]): string {
  if (rows.length === 0) return 'no grid cells in this queue\n';
  const out: string[] = [];
  for (const grid of [...new Set(rows.map((r) => r.grid))]) {
    const mine = rows.filter((r) => r.grid === grid);
    const count = (s: CellStatus['state']) => mine.filter((r) => r.state === s).length;
    out.push(`grid ${grid} (${mine[0]!.kind}): ${count('done')} done, ${count('running')} running, ${count('waiting')} waiting, ${count('failed')} failed`);
    const width = Math.max(...mine.map((r) => r.cell.length));
    for (const r of mine) {
      const where = r.worker ? ` on ${r.worker}` : '';
      const time = r.seconds !== undefined ? ` in ${r.seconds.toFixed(1)} s` : '';
      out.push(`  ${r.cell.padEnd(width)}  ${r.state}${where}${time}${r.note ? `  (${r.note.split('\n')[0]})` : ''}`);
    }
  }
  return `${out.join('\n')}\n`;
}

/**
 * Writes the files of every finished cell of `grid` (results, metrics, figures) under `root`, as the producer
 * does while it waits. Returns the cells written and their kinds.
 */
export async function collectGrid(location: QueueLocation & { readonly grid: string; readonly root: string }): Promise<{ cells: string[]; kinds: string[] }> {
  const cells: string[] = [];
  const kinds = new Set<string>();
  await jobsOf(location, location.grid, async (found) => {
    for (const { state, job } of found) {
      if (state !== 'done') continue;
      const data = job.data as GridJobData;
      unpackFiles(location.root, (job.returnvalue as unknown as GridJobResult).files);
      cells.push(data.cell);
      kinds.add(data.kind);
    }
  });
  return { cells: cells.sort(), kinds: [...kinds] };
}

/** Removes every job of `grid` from the queue (running ones are left alone); returns how many were removed. */
export async function removeGrid(location: QueueLocation & { readonly grid: string }): Promise<number> {
  let removed = 0;
  await jobsOf(location, location.grid, async (found) => {
    for (const { state, job } of found) {
      if (state === 'running') continue;
      await job.remove();
      removed++;
    }
  });
  return removed;
}
