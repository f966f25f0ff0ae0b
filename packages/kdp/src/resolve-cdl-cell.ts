import { clMethodRegistry } from '@promptkd/continual';
import type { CdlCellSpec } from './cdl-cell-spec.js';
import type { KdpRunPreset } from './presets.js';
import { kdMethodRegistry } from './registry.js';
import { resolveKdpPreset } from './resolve-kdp-preset.js';
import type { RunCdlCellOptions } from './run-cdl-cell.js';

/**
 * A cell's resolved, validated preset ({@link resolveKdpPreset} with its split, dataset, backbone shapes and `set`
 * overrides), after checking its KD and CL method keys against their registries: an unknown key, preset, split,
 * shape or field throws (the registry's error, or the preset's `ConfigError`) before any work.
 *
 * @example
 * ```ts
 * resolveCdlCell({ preset: 'cpu', split: '2x5', cl: 'coda', kd: ['none', 'kdp'], seed: 0 }).data.numTasks; // 2
 * ```
 */
export function resolveCdlCell(cell: CdlCellSpec): KdpRunPreset {
  for (const kd of cell.kd) if (!kdMethodRegistry.has(kd)) kdMethodRegistry.get(kd);
  if (!clMethodRegistry.has(cell.cl)) clMethodRegistry.get(cell.cl);
  return resolveKdpPreset({
    preset: cell.preset,
    ...(cell.split ? { split: cell.split } : {}),
    ...(cell.dataset ? { dataset: cell.dataset } : {}),
    ...(cell.teacher ? { teacher: cell.teacher } : {}),
    ...(cell.student ? { student: cell.student } : {}),
    ...(cell.set ? { overrides: cell.set } : {}),
  });
}

/**
 * `runCdlCell`'s options for a cell: its resolved preset ({@link resolveCdlCell}), CL and KD methods, seed, data
 * folder and checkpoint files, under the grid root `root`. Add `log`, `quiet` or `cacheDir` as needed.
 *
 * @example
 * ```ts
 * await runCdlCell({ ...cdlCellRunOptions(cell, 'runs/kdp'), log: console.error });
 * ```
 */
export function cdlCellRunOptions(cell: CdlCellSpec, root: string): RunCdlCellOptions {
  return {
    preset: resolveCdlCell(cell),
    clMethod: cell.cl,
    kdMethods: cell.kd,
    seed: cell.seed,
    root,
    ...(cell.dataRoot ? { dataRoot: cell.dataRoot } : {}),
    ...(cell.teacherWeights ? { teacherWeights: cell.teacherWeights } : {}),
    ...(cell.studentWeights ? { studentWeights: cell.studentWeights } : {}),
  };
}
