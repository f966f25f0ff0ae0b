import type { CdlCellSpec } from './cdl-cell-spec.js';

/** The axes of a CDL grid: every split × CL method × seed is one cell with all the grid's KD methods. */
export interface CdlGridAxes {
  /** Dataset splits, `<tasks>x<classes>` (e.g. `['2x5', '5x2']`). */
  readonly splits: readonly string[];
  /** CL method keys. */
  readonly clMethods: readonly string[];
  readonly seeds: readonly number[];
}

/**
 * The cells of a CDL grid, seed by seed (then split, then CL method), each with every KD method of `base` (one
 * teacher run per cell): what `runCdlGrid` (`@promptkd/kdp/node`) or a queue runs.
 *
 * @example
 * ```ts
 * cdlGridCells({ preset: 'cpu', kd: ['none', 'kdp'] }, { splits: ['5x2'], clMethods: ['coda', 'l2p'], seeds: [0, 1] });
 * // 4 cells: 5x2 coda s0, 5x2 l2p s0, 5x2 coda s1, 5x2 l2p s1
 * ```
 */
export function cdlGridCells(base: Omit<CdlCellSpec, 'split' | 'cl' | 'seed'>, axes: CdlGridAxes): CdlCellSpec[] {
  return axes.seeds.flatMap((seed) => axes.splits.flatMap((split) => axes.clMethods.map((cl) => ({ ...base, split, cl, kd: [...base.kd], seed }))));
}
