import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { runGrid, shareCoresAmongJobs, type GridOutcome } from '@promptkd/experiments';
import { prepareCdlBackbones } from './cdl-backbone.js';
import type { CdlCellSpec } from './cdl-cell-spec.js';
import { cdlCellName, cdlGroupName, cdlRunName } from './cdl-run-names.js';
import { cdlCellRunOptions } from './resolve-cdl-cell.js';
import { runCdlCellInChild, type CdlChildCommand } from './run-cdl-cell-in-child.js';

/** Options of {@link runCdlGrid}. */
export interface RunCdlGridOptions {
  /** The grid's cells (e.g. `cdlGridCells(...)`), each with the KD methods that share its teacher run. */
  readonly cells: readonly CdlCellSpec[];
  /** Grid root: every KD method's run folder is `<root>/<cdlRunName(...)>`. */
  readonly root: string;
  /** Cells at a time, one child process each. */
  readonly jobs: number;
  /** The command line that runs one cell in a child process (e.g. `promptkd kdp run …`). */
  readonly command: CdlChildCommand;
  readonly log?: (line: string) => void;
}

/**
 * Runs a CDL grid on this machine: first loads (or pretrains and caches) the backbones of every split once, so the
 * parallel cells find them cached; then runs each cell — one teacher run shared by its KD methods — in a child
 * process ({@link runCdlCellInChild}), `jobs` at a time with the cores shared among them (`shareCoresAmongJobs`).
 * KD runs with a `results.json` are left out (resume) and cells with nothing left are not started; a failing cell
 * does not stop the others. Returns the outcomes of the started cells (ids {@link cdlCellName}).
 *
 * @example
 * ```ts
 * const cells = cdlGridCells({ preset: 'cpu', kd: ['none', 'kd', 'deit', 'kdp'] }, { splits: ['5x2'], clMethods: ['coda'], seeds: [0, 1, 2] });
 * const outcomes = await runCdlGrid({ cells, root: 'runs/kdp-grid', jobs: 2, command: { cli: 'bin/promptkd.mjs', args: kdpRunArgs } });
 * const runs = collectCdlRuns('runs/kdp-grid');
 * ```
 */
export async function runCdlGrid(options: RunCdlGridOptions): Promise<GridOutcome<CdlCellSpec, string>[]> {
  const { cells, root, jobs } = options;
  const log = options.log ?? (() => {});
  const prepared = new Set<string>();
  for (const cell of cells) {
    const { preset, dataRoot, teacherWeights, studentWeights } = cdlCellRunOptions(cell, root);
    const group = cdlGroupName(preset);
    if (prepared.has(group)) continue;
    prepared.add(group);
    const sources = { ...(dataRoot ? { dataRoot } : {}), ...(teacherWeights ? { teacherWeights } : {}), ...(studentWeights ? { studentWeights } : {}) };
    const { teacher, student } = await prepareCdlBackbones(preset, { ...sources, log });
    teacher.vit.dispose();
    student.vit.dispose();
  }
  const todo: { id: string; config: CdlCellSpec }[] = [];
  for (const cell of cells) {
    const { preset } = cdlCellRunOptions(cell, root);
    const missing = cell.kd.filter((kd) => !existsSync(join(root, ...cdlRunName(preset, cell.cl, kd, cell.seed).split('/'), 'results.json')));
    if (missing.length) todo.push({ id: cdlCellName(preset, cell.cl, cell.seed), config: { ...cell, kd: missing } });
  }
  log(`${todo.length} group(s) to run (${todo.reduce((s, g) => s + g.config.kd.length, 0)} KD runs), ${jobs} at a time`);
  shareCoresAmongJobs(jobs);
  return runGrid(
    todo,
    async (cell) => {
      const t0 = performance.now();
      await runCdlCellInChild(cell.config, root, options.command);
      log(`done: ${cell.config.split ?? ''} ${cell.config.cl} s${cell.config.seed} [${cell.config.kd.join(',')}] in ${((performance.now() - t0) / 60000).toFixed(1)} min`);
      return cell.id;
    },
    { concurrency: jobs, continueOnError: true },
  );
}
