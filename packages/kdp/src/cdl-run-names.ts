import type { KdpPreset } from './presets.js';

/**
 * The folder of one dataset split and backbone pair in a CDL grid: `<dataset>-<N>x<K>-t<D_T>-s<D_S>`
 * (e.g. `fashionMnist-2x5-t64-s32`).
 */
export function cdlGroupName(preset: Pick<KdpPreset, 'data' | 'teacher' | 'student'>): string {
  const p = preset;
  return `${p.data.dataset}-${p.data.numTasks}x${p.data.classesPerTask}-t${p.teacher.dim}-s${p.student.dim}`;
}

/** Run-folder name of one KD method's run: `<group>/<cl>/<kd>__s<seed>` (see {@link cdlGroupName}). */
export function cdlRunName(preset: Pick<KdpPreset, 'data' | 'teacher' | 'student'>, clMethod: string, kdMethod: string, seed: number): string {
  return `${cdlGroupName(preset)}/${clMethod}/${kdMethod}__s${seed}`;
}

/**
 * Run-folder name of the teacher stream the KD methods of a (split, CL method, seed) share — its per-task
 * checkpoints: `<group>/<cl>/teacher__s<seed>`.
 */
export function cdlTeacherRunName(preset: Pick<KdpPreset, 'data' | 'teacher' | 'student'>, clMethod: string, seed: number): string {
  return `${cdlGroupName(preset)}/${clMethod}/teacher__s${seed}`;
}

/**
 * Name of one CDL cell — a dataset split, a CL method and a seed, whose KD methods share one teacher run — in a grid
 * (e.g. its job id on a queue): `<group>/<cl>/s<seed>`.
 *
 * @example
 * cdlCellName(kdpPresets.demo, 'coda', 3); // 'fashionMnist-2x5-t64-s32/coda/s3'
 */
export function cdlCellName(preset: Pick<KdpPreset, 'data' | 'teacher' | 'student'>, clMethod: string, seed: number): string {
  return `${cdlGroupName(preset)}/${clMethod}/s${seed}`;
}
