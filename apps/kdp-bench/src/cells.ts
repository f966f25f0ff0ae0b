import { fileURLToPath } from 'node:url';
import { clMethodRegistry } from '@promptkd/continual';
import { runCellInChild as runChildCell } from '@promptkd/experiments';
import { kdMethodRegistry, prepareCdlBackbones, runCdlCell, VIT_SHAPE_NAMES, vitShapeOf, type CdlCellResults } from '@promptkd/kdp/node';
import { resolvePresetConfig, type BenchPreset, type PresetName } from './bench-presets.js';

export { cdlGroupName as groupName, cdlRunName as cellId } from '@promptkd/kdp';

/** Backbone names accepted by `--teacher` / `--student` (`@promptkd/models` ViT presets), `preset` = the preset's shape. */
export const BACKBONE_NAMES = ['preset', ...VIT_SHAPE_NAMES] as const;

/**
 * One group of cells run in one process: a dataset split, a CL method and a seed, with one or more KD methods
 * that share ONE teacher run (the teacher never depends on the student). Each KD method is its own run folder.
 */
export interface KdpCellSpec {
  readonly preset: PresetName;
  /** `<tasks>x<classes>`, e.g. `2x5`. Default: the preset's. */
  readonly split?: string;
  /** Dataset key override (`fashionMnist`, `cifar100`, `imagenetR`). */
  readonly dataset?: string;
  readonly cl: string;
  readonly kd: readonly string[];
  readonly seed: number;
  readonly teacher?: string;
  readonly student?: string;
  /** `key.path=value` overrides of the preset. */
  readonly set?: readonly string[];
  readonly teacherWeights?: string;
  readonly studentWeights?: string;
  /** Folder with the dataset's files (e.g. IDX for Fashion-MNIST). */
  readonly dataRoot?: string;
}

/** The cell's resolved, validated preset (split, dataset, backbones and `--set` applied). */
export function resolveCell(c: KdpCellSpec): BenchPreset {
  for (const kd of c.kd) if (!kdMethodRegistry.has(kd)) kdMethodRegistry.get(kd);
  if (!clMethodRegistry.has(c.cl)) clMethodRegistry.get(c.cl);
  const shapes: Record<string, unknown> = {};
  if (c.teacher && c.teacher !== 'preset') shapes.teacher = vitShapeOf(c.teacher);
  if (c.student && c.student !== 'preset') shapes.student = vitShapeOf(c.student);
  return resolvePresetConfig(c.preset, {
    ...(c.split ? { split: c.split } : {}),
    ...(c.dataset ? { dataset: c.dataset } : {}),
    ...(c.set ? { set: c.set } : {}),
    overrides: shapes,
  });
}

const sources = (c: KdpCellSpec) => ({
  ...(c.dataRoot ? { dataRoot: c.dataRoot } : {}),
  ...(c.teacherWeights ? { teacherWeights: c.teacherWeights } : {}),
  ...(c.studentWeights ? { studentWeights: c.studentWeights } : {}),
});

/** Runs a cell in this process (`@promptkd/kdp`'s `runCdlCell`): `<root>/<group>/<cl>/<kd>__s<seed>/` per KD method, finished ones skipped. */
export function runOneCell(c: KdpCellSpec, root: string, options: { quiet?: boolean; log?: (line: string) => void } = {}): Promise<Map<string, CdlCellResults>> {
  const log = options.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  return runCdlCell({ preset: resolveCell(c), clMethod: c.cl, kdMethods: c.kd, seed: c.seed, root, ...sources(c), log, ...(options.quiet ? { quiet: true } : {}) });
}

/** Loads (or pretrains and caches) both backbones of a cell's preset: call once before a grid so parallel cells find them cached. */
export async function prepareBackbones(c: KdpCellSpec, log: (line: string) => void = () => {}): Promise<void> {
  const { teacher, student } = await prepareCdlBackbones(resolveCell(c), { ...sources(c), log });
  teacher.vit.dispose();
  student.vit.dispose();
}

/** The optional spec fields and their `promptkd kdp run` flags. */
const FLAGS = [
  ['split', '--split'], ['dataset', '--dataset'], ['teacher', '--teacher'], ['student', '--student'],
  ['teacherWeights', '--teacher-weights'], ['studentWeights', '--student-weights'], ['dataRoot', '--data-root'],
] as const;

/** CLI arguments that re-create a cell in another process (`promptkd kdp run ...`). */
export function cellArgs(c: KdpCellSpec, root: string): string[] {
  return [
    'kdp', 'run', '--preset', c.preset, '--cl', c.cl, '--kd', c.kd.join(','), '--seed', String(c.seed), '--out', root,
    ...FLAGS.flatMap(([field, flag]) => (c[field] ? [flag, c[field]] : [])),
    ...(c.set ?? []).flatMap((s) => ['--set', s]),
  ];
}

/**
 * Runs a cell in a child process (one wasm engine per core): experiments' `runCellInChild`, which rethrows the
 * child's typed error with its code. `env` adds variables (e.g. `PROMPTKD_MODELS` for a shared model cache);
 * `detached`: own process group (a worker's cells ignore the terminal's Ctrl-C).
 */
export function runCellInChild(
  c: KdpCellSpec,
  root: string,
  options: { cli?: string; env?: Readonly<Record<string, string>>; detached?: boolean } = {},
): Promise<void> {
  const cli = options.cli ?? fileURLToPath(new URL('../../cli/src/promptkd.ts', import.meta.url));
  const label = `${c.cl}/${c.kd.join(',')}/s${c.seed}`;
  return runChildCell({ cli, args: cellArgs(c, root), label, ...(options.env ? { env: options.env } : {}), ...(options.detached ? { detached: true } : {}) });
}
