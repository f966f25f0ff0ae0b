import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { Command } from 'commander';
import { shareCoresAmongJobs } from '@promptkd/experiments';
import {
  collectGrid,
  formatStatus,
  gridStatus,
  PROMPTKD_VERSION,
  QUEUE_OPTION_FLAGS,
  redisFromCli,
  removeGrid,
  startGridWorker,
  type QueueCliOptions,
} from '@promptkd/grid-bullmq';
import { collectCells, kiopCellKind, writeReport } from '@promptkd/kiop-bench';
import { kdpCellKind, report as kdpReport } from '@promptkd/kdp-bench';

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1) throw new Error(`not a positive integer: ${v}`);
  return n;
};
const log = (l: string) => process.stderr.write(`${l}\n`);
const withQueue = (cmd: Command): Command => {
  for (const [flags, description] of QUEUE_OPTION_FLAGS) cmd.option(flags, description);
  return cmd;
};
const location = (o: QueueCliOptions) => ({ redis: redisFromCli(o), queueName: o.queueName });

/** Table writers per cell kind, for `grid collect`. */
const reports: Record<string, (root: string) => Promise<string>> = {
  kiop: async (root) => (await writeReport(root, collectCells(root))).markdown,
  kdp: kdpReport,
};

/** `promptkd worker`: runs grid cells from a queue until stopped. `passBackend` hands `--backend` to the cells. */
export function workerCommand(passBackend: () => void): Command {
  return withQueue(new Command('worker'))
    .description('run grid cells from a Redis queue (on any machine with the same promptkd version; the URL may come from PROMPTKD_QUEUE)')
    .option('--concurrency <n>', 'cells at a time (one process each)', int, 1)
    .option('--shared-dir <dir>', 'shared folder (e.g. NFS) for run folders, checkpoints and pretrained models, so a retried cell resumes on any worker')
    .option('--work-dir <dir>', 'run folders without a shared folder', join(homedir(), '.cache', 'promptkd', 'worker'))
    .option('--name <name>', 'worker name in grid status (default host:pid)')
    .option('--lock-seconds <s>', "a dead worker's cells go back to the queue after about this long", int, 30)
    .action(async (o) => {
      passBackend();
      shareCoresAmongJobs(o.concurrency);
      const worker = await startGridWorker({
        ...location(o),
        version: PROMPTKD_VERSION,
        kinds: [kiopCellKind, kdpCellKind],
        concurrency: o.concurrency,
        workDir: resolve(o.workDir),
        ...(o.sharedDir ? { sharedDir: resolve(o.sharedDir) } : {}),
        ...(o.name ? { name: o.name } : {}),
        lockDurationMs: o.lockSeconds * 1000,
        log,
      });
      let stopping = false;
      const stop = () => {
        if (stopping) {
          log('stopping now; unfinished cells go back to the queue');
          process.exit(130);
        }
        stopping = true;
        log('stopping: running cells finish first, no new ones start (Ctrl-C again to stop now)');
        void worker.close().then(() => process.exit(0));
      };
      process.on('SIGINT', stop);
      process.on('SIGTERM', stop);
      await new Promise(() => {}); // runs until a signal
    });
}

/** `promptkd grid status|collect|remove`. */
export function gridCommand(): Command {
  const grid = new Command('grid').description('grids on a Redis queue: status, collect, remove');
  withQueue(grid.command('status'))
    .description('done / running (on which worker) / waiting / failed (with the error) per cell')
    .option('--grid <name>', 'one grid (default: every grid in the queue)')
    .action(async (o) => {
      process.stdout.write(formatStatus(await gridStatus({ ...location(o), ...(o.grid ? { grid: o.grid } : {}) })));
    });
  withQueue(grid.command('collect'))
    .description("write the finished cells' run folders and the table into a folder")
    .requiredOption('--grid <name>', 'grid name')
    .option('--out <dir>', 'grid folder (default runs/<grid>)')
    .action(async (o) => {
      const root = resolve(o.out ?? join('runs', o.grid));
      const { cells, kinds } = await collectGrid({ ...location(o), grid: o.grid, root });
      log(`${cells.length} finished cell(s) of grid '${o.grid}' written to ${root}`);
      for (const kind of kinds) {
        const report = reports[kind];
        if (report) process.stdout.write(`${await report(root)}\n`);
        else log(`no table writer for '${kind}' cells; their run folders are in ${root}`);
      }
    });
  withQueue(grid.command('remove'))
    .description("remove a grid's jobs from the queue (running cells are left to finish)")
    .requiredOption('--grid <name>', 'grid name')
    .action(async (o) => {
      log(`removed ${await removeGrid({ ...location(o), grid: o.grid })} job(s) of grid '${o.grid}'`);
    });
  return grid;
}
