import { runCellInChild } from '@promptkd/experiments';
import type { CdlCellSpec } from './cdl-cell-spec.js';

/** A command line that runs one CDL cell in another process, e.g. `promptkd kdp run --preset … --cl … --kd … --seed … --out <root>`. */
export interface CdlChildCommand {
  /** The command-line module to run (e.g. the `promptkd` CLI's entry). */
  readonly cli: string;
  /** Its arguments for a cell under the grid root `root`. */
  readonly args: (cell: CdlCellSpec, root: string) => readonly string[];
  /** Node options of the child (default: this process's, e.g. the `tsx` loader of a development run). */
  readonly execArgv?: readonly string[];
}

/** Options of {@link runCdlCellInChild}: the command, plus how the child is started. */
export interface RunCdlCellInChildOptions extends CdlChildCommand {
  /** Variables added to the child's environment (e.g. `PROMPTKD_MODELS` for a shared model cache). */
  readonly env?: Readonly<Record<string, string>>;
  /** Own process group (a queue worker's cells ignore the terminal's Ctrl-C). */
  readonly detached?: boolean;
}

/**
 * Runs one CDL cell in a child process (one engine per core): `@promptkd/experiments`' `runCellInChild` with the
 * cell's command line, labelled `<cl>/<kd,…>/s<seed>`; a child's typed error is rethrown with its class and code.
 *
 * @example
 * ```ts
 * await runCdlCellInChild(cell, 'runs/kdp', { cli: 'bin/promptkd.mjs', args: (c, root) => ['kdp', 'run', ..., '--out', root] });
 * ```
 */
export function runCdlCellInChild(cell: CdlCellSpec, root: string, options: RunCdlCellInChildOptions): Promise<void> {
  return runCellInChild({
    cli: options.cli,
    args: options.args(cell, root),
    label: `${cell.cl}/${cell.kd.join(',')}/s${cell.seed}`,
    ...(options.env ? { env: options.env } : {}),
    ...(options.detached ? { detached: true } : {}),
    ...(options.execArgv ? { execArgv: options.execArgv } : {}),
  });
}
