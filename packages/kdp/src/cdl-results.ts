import type { StreamResult } from './continual-distillation.js';
import { kdMethodRegistry } from './registry.js';

/** The backbone a run used: where its weights came from and its shape. */
export interface CdlBackboneInfo {
  /** Checkpoint file (a timm file or the in-app pretraining cache). */
  readonly weights: string;
  readonly dim: number;
  readonly depth: number;
  /** In-app pretraining only: top-1 of the pretraining head on the (capped) test split, all classes. */
  readonly pretrainTestAccuracy?: number;
}

/** What one KD method's run of a CDL cell writes to its `results.json` (`runCdlCell`, `@promptkd/kdp/node`). */
export interface CdlCellResults {
  readonly dataset: string;
  readonly numTasks: number;
  readonly classesPerTask: number;
  readonly clMethod: string;
  readonly kdMethod: string;
  readonly seed: number;
  readonly preset: string;
  /** The student (the reported model): accuracy matrix (0..1), final accuracy, forgetting (÷N, as the code). */
  readonly student: StreamResult;
  /** The teacher's own CL run ("teacher alone"); identical for every KD method of a seed. Absent for `none`-only groups. */
  readonly teacher?: StreamResult;
  readonly backbones: { readonly teacher: CdlBackboneInfo; readonly student: CdlBackboneInfo };
  readonly images: { pool: number; train: number; test: number };
  /** Wall time of the student run (seconds); the teacher's is in `teacher.seconds`. */
  readonly seconds: number;
}

/** A finished KD run of a CDL grid (e.g. found by `collectCdlRuns`). */
export interface FoundCdlRun {
  /** Its run folder. */
  readonly dir: string;
  /** Its dataset split and backbone pair, `<dataset>-<N>x<K>-t<D_T>-s<D_S>` (`cdlGroupName`). */
  readonly group: string;
  readonly results: CdlCellResults;
}

/** The row key of the teacher's own run in CDL summaries (next to the KD method keys). */
export const CDL_TEACHER_ROW = 'teacher';

/**
 * A row's label in CDL tables and plots: the KD method's registry label (`student alone`, `KDP`, ...), and
 * `teacher alone` for {@link CDL_TEACHER_ROW}, the teacher's own CL run.
 */
export function cdlRowLabel(row: string): string {
  return row === CDL_TEACHER_ROW ? 'teacher alone' : kdMethodRegistry.label(row);
}
