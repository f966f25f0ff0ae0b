import { clMethodRegistry, forgettingAsCode, type AccuracyMatrix } from '@promptkd/continual';
import { CDL_TEACHER_ROW, type CdlCellResults, type FoundCdlRun } from './cdl-results.js';
import type { StreamResult } from './continual-distillation.js';
import { kdMethodRegistry } from './registry.js';

/**
 * Where one row's averaged prediction comes from, per seed (values 0..1, one per run that has them): the final
 * accuracy of the prediction, of the class head g alone and of the KD head k alone (token methods), the forgetting
 * of the prediction and of each head,
 * the within-task accuracy on the just-learned task (argmax over that task's classes, mean over tasks) per head, and
 * k's within-task accuracy minus the teacher's, paired by seed (has the KD head learnt what the teacher knows?).
 */
export interface CdlHeadSummary {
  readonly clMethod: string;
  /** KD method key, or {@link CDL_TEACHER_ROW} (then only `accuracy`, `forgetting` and `withinTask.prediction`). */
  readonly row: string;
  /** Runs in the row. */
  readonly seeds: number;
  readonly accuracy: readonly number[];
  readonly accuracyG: readonly number[];
  readonly accuracyK: readonly number[];
  readonly forgetting: readonly number[];
  /**
   * Forgetting of the class head g alone and of the KD head k alone (token methods), as the reference code computes
   * it for the prediction (`forgettingAsCode` on each head's accuracy matrix): which head loses the old tasks.
   */
  readonly forgettingG: readonly number[];
  readonly forgettingK: readonly number[];
  readonly withinTask: { readonly prediction: readonly number[]; readonly g: readonly number[]; readonly k: readonly number[] };
  readonly kMinusTeacher: readonly number[];
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const meanOrUndefined = (xs: readonly number[] | undefined) => (xs && xs.length ? mean(xs) : undefined);
const defined = (xs: readonly (number | undefined)[]) => xs.filter((v): v is number => v !== undefined);
/** Final average accuracy of an accuracy matrix (its last row). */
const finalOf = (m: readonly (readonly number[])[] | undefined) => (m && m.length ? mean(m[m.length - 1] as number[]) : undefined);
/** Forgetting of a head's accuracy matrix, as the reference code computes it. */
const forgettingOf = (m: AccuracyMatrix | undefined) => (m && m.length ? forgettingAsCode(m) : undefined);

/**
 * The heads diagnostics of a CDL grid's runs: per CL method (registry order), one {@link CdlHeadSummary} per KD
 * method (registry order), then the teacher's own run (one per seed).
 */
export function cdlHeadSummary(runs: readonly Pick<FoundCdlRun, 'results'>[]): CdlHeadSummary[] {
  const cls = clMethodRegistry.ordered(new Set(runs.map((c) => c.results.clMethod)));
  return cls.flatMap((cl) => {
    const inCl = runs.map((c) => c.results).filter((r) => r.clMethod === cl);
    const teacherBySeed = new Map(inCl.flatMap((r) => (r.teacher ? [[r.seed, r.teacher] as const] : [])));
    const within = (s: StreamResult | undefined, head: string) => meanOrUndefined(s?.withinTask?.[head]);
    const out: CdlHeadSummary[] = kdMethodRegistry.ordered(new Set(inCl.map((r) => r.kdMethod))).map((kd) => {
      const rs = inCl.filter((r) => r.kdMethod === kd);
      const pick = (f: (r: CdlCellResults) => number | undefined) => defined(rs.map(f));
      return {
        clMethod: cl,
        row: kd,
        seeds: rs.length,
        accuracy: pick((r) => r.student.summary.finalAccuracy),
        accuracyG: pick((r) => finalOf(r.student.heads?.g)),
        accuracyK: pick((r) => finalOf(r.student.heads?.k)),
        forgetting: pick((r) => r.student.summary.forgetting),
        forgettingG: pick((r) => forgettingOf(r.student.heads?.g)),
        forgettingK: pick((r) => forgettingOf(r.student.heads?.k)),
        withinTask: { prediction: pick((r) => within(r.student, 'prediction')), g: pick((r) => within(r.student, 'g')), k: pick((r) => within(r.student, 'k')) },
        kMinusTeacher: pick((r) => {
          const k = within(r.student, 'k');
          const t = within(teacherBySeed.get(r.seed), 'prediction');
          return k === undefined || t === undefined ? undefined : k - t;
        }),
      };
    });
    const teachers = [...teacherBySeed.values()];
    if (teachers.length) {
      out.push({
        clMethod: cl,
        row: CDL_TEACHER_ROW,
        seeds: teachers.length,
        accuracy: teachers.map((t) => t.summary.finalAccuracy),
        accuracyG: [],
        accuracyK: [],
        forgetting: teachers.map((t) => t.summary.forgetting),
        forgettingG: [],
        forgettingK: [],
        withinTask: { prediction: teachers.map((t) => within(t, 'prediction') ?? Number.NaN).filter(Number.isFinite), g: [], k: [] },
        kMinusTeacher: [],
      });
    }
    return out;
  });
}
