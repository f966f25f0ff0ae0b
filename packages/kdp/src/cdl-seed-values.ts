import { CDL_TEACHER_ROW, type FoundCdlRun } from './cdl-results.js';

/** A scalar of a CL run's summary that CDL tables compare. */
export type CdlMetric = 'finalAccuracy' | 'forgetting' | 'forgettingStandard';

/**
 * One metric of a CDL grid by seed: per CL method, per row (the KD method of the student's run, and
 * {@link CDL_TEACHER_ROW} for the teacher's own run — one per seed however many KD runs store it), the value by seed.
 * The shape paired-by-seed statistics take (`@promptkd/reporting`).
 *
 * @example
 * ```ts
 * const acc = cdlSeedValues(collectCdlRuns('runs/kdp-grid'), 'finalAccuracy');
 * acc.get('coda')?.get('kdp')?.get(0); // KDP's final accuracy with CODA-P, seed 0
 * ```
 */
export function cdlSeedValues(runs: readonly Pick<FoundCdlRun, 'results'>[], metric: CdlMetric): Map<string, Map<string, Map<number, number>>> {
  const out = new Map<string, Map<string, Map<number, number>>>();
  const put = (cl: string, row: string, seed: number, v: number) => {
    let byRow = out.get(cl);
    if (!byRow) out.set(cl, (byRow = new Map()));
    let bySeed = byRow.get(row);
    if (!bySeed) byRow.set(row, (bySeed = new Map()));
    bySeed.set(seed, v);
  };
  for (const { results: r } of runs) {
    put(r.clMethod, r.kdMethod, r.seed, r.student.summary[metric]);
    if (r.teacher) put(r.clMethod, CDL_TEACHER_ROW, r.seed, r.teacher.summary[metric]);
  }
  return out;
}
