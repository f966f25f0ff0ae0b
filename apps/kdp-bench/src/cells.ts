import { fileURLToPath } from 'node:url';
import { VIT_SHAPE_NAMES, type CdlCellSpec, type CdlChildCommand } from '@promptkd/kdp/node';

/** Backbone names accepted by `--teacher` / `--student` (`@promptkd/models` ViT presets), `preset` = the preset's shape. */
export const BACKBONE_NAMES = ['preset', ...VIT_SHAPE_NAMES] as const;

/** The optional spec fields and their `promptkd kdp run` flags. */
const FLAGS = [
  ['split', '--split'], ['dataset', '--dataset'], ['teacher', '--teacher'], ['student', '--student'],
  ['teacherWeights', '--teacher-weights'], ['studentWeights', '--student-weights'], ['dataRoot', '--data-root'],
] as const;

/** CLI arguments that re-create a cell in another process (`promptkd kdp run ...`). */
export function cellArgs(c: CdlCellSpec, root: string): string[] {
  return [
    'kdp', 'run', '--preset', c.preset, '--cl', c.cl, '--kd', c.kd.join(','), '--seed', String(c.seed), '--out', root,
    ...FLAGS.flatMap(([field, flag]) => (c[field] ? [flag, c[field]] : [])),
    ...(c.set ?? []).flatMap((s) => ['--set', s]),
  ];
}

/** A cell in a child process: this checkout's `promptkd` CLI with {@link cellArgs} (`runCdlGrid`, `runCdlCellInChild`). */
export const kdpRunCommand: CdlChildCommand = { cli: fileURLToPath(new URL('../../cli/src/promptkd.ts', import.meta.url)), args: cellArgs };
