import { fileURLToPath } from 'node:url';
import { ConfigError } from '@promptkd/core';
import { clMethodRegistry } from '@promptkd/continual';
import { kdMethodRegistry } from '@promptkd/kdp';
import { vitPresets } from '@promptkd/models';
import { runCellInChild as runChildCell } from '@promptkd/experiments';
import { resolvePresetConfig, type BenchPreset, type PresetName } from './bench-presets.js';


/** Backbone names accepted by `--teacher` / `--student` (`@promptkd/models` ViT presets), `preset` = the preset's shape. */
export const BACKBONE_NAMES = ['preset', 'vitTiny', 'vitSmall', 'vitBase', 'vitLarge', 'vitCdlTeacher', 'vitCdlStudent'] as const;
const TIMM: Record<string, string> = {
  vitTiny: 'vit_tiny_patch16_224',
  vitSmall: 'vit_small_patch16_224',
  vitBase: 'vit_base_patch16_224',
  vitLarge: 'vit_large_patch16_224',
};

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

function backboneShape(name: string): BenchPreset['teacher'] {
  if (!(BACKBONE_NAMES as readonly string[]).includes(name) || name === 'preset') {
    throw new ConfigError(`Unknown backbone '${name}'. Valid: ${BACKBONE_NAMES.join(', ')}.`, { field: 'backbone', valid: BACKBONE_NAMES });
  }
  const v = vitPresets[name as keyof typeof vitPresets] as { imageSize: number; patchSize: number; dim: number; depth: number; heads: number; mlpRatio: number; inputChannels?: number };
  return {
    ...(TIMM[name] ? { timm: TIMM[name] } : {}),
    imageSize: v.imageSize,
    patchSize: v.patchSize,
    channels: v.inputChannels ?? 3,
    dim: v.dim,
    depth: v.depth,
    heads: v.heads,
    mlpRatio: v.mlpRatio,
  };
}

/** The cell's resolved, validated preset (split, dataset, backbones and `--set` applied). */
export function resolveCell(c: KdpCellSpec): BenchPreset {
  for (const kd of c.kd) if (!kdMethodRegistry.has(kd)) kdMethodRegistry.get(kd);
  if (!clMethodRegistry.has(c.cl)) clMethodRegistry.get(c.cl);
  const shapes: Record<string, unknown> = {};
  if (c.teacher && c.teacher !== 'preset') shapes.teacher = backboneShape(c.teacher);
  if (c.student && c.student !== 'preset') shapes.student = backboneShape(c.student);
  return resolvePresetConfig(c.preset, {
    ...(c.split ? { split: c.split } : {}),
    ...(c.dataset ? { dataset: c.dataset } : {}),
    ...(c.set ? { set: c.set } : {}),
    overrides: shapes,
  });
}

/** `<dataset>-<N>x<K>-t<D_T>-s<D_S>`: the folder of one dataset split and backbone pair. */
export function groupName(p: BenchPreset): string {
  return `${p.data.dataset}-${p.data.numTasks}x${p.data.classesPerTask}-t${p.teacher.dim}-s${p.student.dim}`;
}

/** Run-folder name of one KD method of a cell: `<group>/<cl>/<kd>__s<seed>`. */
export function cellId(p: BenchPreset, cl: string, kd: string, seed: number): string {
  return `${groupName(p)}/${cl}/${kd}__s${seed}`;
}

/** Run-folder name of the teacher stream a cell's KD methods share (its per-task checkpoints): `<group>/<cl>/teacher__s<seed>`. */
export function teacherRunId(p: BenchPreset, cl: string, seed: number): string {
  return `${groupName(p)}/${cl}/teacher__s${seed}`;
}

/** CLI arguments that re-create a cell in another process (`promptkd kdp run ...`). */
export function cellArgs(c: KdpCellSpec, root: string): string[] {
  return [
    'kdp', 'run',
    '--preset', c.preset,
    ...(c.split ? ['--split', c.split] : []),
    ...(c.dataset ? ['--dataset', c.dataset] : []),
    '--cl', c.cl,
    '--kd', c.kd.join(','),
    '--seed', String(c.seed),
    ...(c.teacher ? ['--teacher', c.teacher] : []),
    ...(c.student ? ['--student', c.student] : []),
    ...(c.teacherWeights ? ['--teacher-weights', c.teacherWeights] : []),
    ...(c.studentWeights ? ['--student-weights', c.studentWeights] : []),
    ...(c.dataRoot ? ['--data-root', c.dataRoot] : []),
    '--out', root,
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
