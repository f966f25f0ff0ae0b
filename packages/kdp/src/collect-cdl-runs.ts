import { collectResults } from '@promptkd/experiments';
import type { CdlCellResults, FoundCdlRun } from './cdl-results.js';
import { kdMethodRegistry } from './registry.js';

/**
 * Every finished KD run of a CDL grid: the `<group>/<cl>/<kd>__s<seed>/results.json` under `root` (the layout
 * `runCdlCell` writes; the shared teacher's checkpoint folders and unfinished runs have none), sorted by group,
 * CL method, KD method (registry order) and seed. A missing root gives none.
 *
 * @example
 * ```ts
 * for (const { group, results } of collectCdlRuns('runs/kdp-grid')) console.log(group, results.kdMethod, results.student.summary.finalAccuracy);
 * ```
 */
export function collectCdlRuns(root: string): FoundCdlRun[] {
  const found = collectResults<CdlCellResults>(root, { depth: 3, match: ([, , cell]) => /^[\w-]+__s-?\d+$/.test(cell ?? '') }).map(
    (r): FoundCdlRun => ({ dir: r.dir, group: r.segments[0] ?? '', results: r.results }),
  );
  const order = kdMethodRegistry.ordered();
  const rank = (kd: string) => order.indexOf(kd);
  return found.sort(
    (a, b) =>
      a.group.localeCompare(b.group) ||
      a.results.clMethod.localeCompare(b.results.clMethod) ||
      rank(a.results.kdMethod) - rank(b.results.kdMethod) ||
      a.results.seed - b.results.seed,
  );
}
