import { CDL_TEACHER_ROW, type FoundCdlRun } from './cdl-results.js';

/**
 * The accuracy on the seen classes after each task (`summary.averageAccuracyPerTask`), one curve per seed: per CL
 * method, per row (KD method, and {@link CDL_TEACHER_ROW} for the teacher's own run, counted once per seed although
 * every KD run of the seed stores it). `methods` limits the KD methods (the teacher is always included).
 * Curves are in the order the runs come.
 */
export function cdlAccuracyCurves(
  runs: readonly Pick<FoundCdlRun, 'results'>[],
  options: { readonly methods?: readonly string[] } = {},
): Map<string, Map<string, number[][]>> {
  const out = new Map<string, Map<string, number[][]>>();
  const teacherSeeds = new Map<string, Set<number>>();
  const add = (cl: string, row: string, seed: number, curve: readonly number[]) => {
    if (row === CDL_TEACHER_ROW) {
      let seen = teacherSeeds.get(cl);
      if (!seen) teacherSeeds.set(cl, (seen = new Set()));
      if (seen.has(seed)) return;
      seen.add(seed);
    }
    let byRow = out.get(cl);
    if (!byRow) out.set(cl, (byRow = new Map()));
    let curves = byRow.get(row);
    if (!curves) byRow.set(row, (curves = []));
    curves.push([...curve]);
  };
  for (const { results: r } of runs) {
    if (options.methods && !options.methods.includes(r.kdMethod)) continue;
    add(r.clMethod, r.kdMethod, r.seed, r.student.summary.averageAccuracyPerTask);
    if (r.teacher) add(r.clMethod, CDL_TEACHER_ROW, r.seed, r.teacher.summary.averageAccuracyPerTask);
  }
  return out;
}
