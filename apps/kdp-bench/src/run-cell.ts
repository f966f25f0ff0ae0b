import { combineCallbacks } from '@promptkd/core';
import { QueryCache, clsQueryFunction, taskSteps, type StepInfo } from '@promptkd/continual';
import {
  TeacherStream,
  resolveClConfig,
  runContinualDistillation,
  type CdlConfig,
  type CdlStep,
  type CdlTaskEnd,
  type StreamResult,
  type TeacherTaskEnd,
} from '@promptkd/kdp';
import { createProgress, createRunFolder, runFolderCheckpoints, type Progress } from '@promptkd/experiments';
import { prepareBackbone, type PreparedBackbone } from './backbones.js';
import type { BenchPreset } from './bench-presets.js';
import { cellId, resolveCell, teacherRunId, type KdpCellSpec } from './cells.js';
import { disposeTasks, loadBenchData } from './data.js';

/** What one KD-method run writes to `results.json`. */
export interface CellResults {
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
  readonly backbones: {
    readonly teacher: { weights: string; dim: number; depth: number; pretrainTestAccuracy?: number };
    readonly student: { weights: string; dim: number; depth: number; pretrainTestAccuracy?: number };
  };
  readonly images: { pool: number; train: number; test: number };
  /** Wall time of the student run (seconds); the teacher's is in `teacher.seconds`. */
  readonly seconds: number;
}

const describe = (b: PreparedBackbone, p: BenchPreset['teacher']) => ({
  weights: b.weights,
  dim: p.dim,
  depth: p.depth,
  ...(b.pretrainTestAccuracy !== undefined ? { pretrainTestAccuracy: b.pretrainTestAccuracy } : {}),
});

/** The continual-distillation config of a preset for one CL method, KD method and seed. */
export function cdlConfig(p: BenchPreset, cl: string, kd: string, seed: number): CdlConfig {
  return {
    clMethod: cl,
    clConfig: resolveClConfig(p, cl, p.data.numTasks),
    kdMethod: kd,
    hyper: p.kd,
    numClasses: p.data.numTasks * p.data.classesPerTask,
    training: p.training,
    seed,
    cacheQueries: p.cache.queries,
    cacheTeacherLogits: p.cache.teacherLogits,
  };
}

/** Loads (or pretrains and caches) both backbones of a preset: call once before a grid so parallel cells find them cached. */
export async function prepareBackbones(spec: KdpCellSpec, log: (line: string) => void = () => {}, quiet = false) {
  const preset = resolveCell(spec);
  const needPool = !spec.teacherWeights || !spec.studentWeights;
  const data = await loadBenchData(preset, { ...(spec.dataRoot ? { root: spec.dataRoot } : {}), withPool: needPool });
  disposeTasks(data.tasks);
  const common = { preset, ...(data.pool ? { pool: data.pool } : {}), test: data.test, log, quiet };
  const teacher = await prepareBackbone({ ...common, role: 'teacher', ...(spec.teacherWeights ? { weights: spec.teacherWeights } : {}) });
  const student = await prepareBackbone({ ...common, role: 'student', ...(spec.studentWeights ? { weights: spec.studentWeights } : {}) });
  return { preset, teacher, student };
}

/**
 * Runs one cell in this process: loads the data and the frozen backbones, then every KD method of `spec.kd`
 * in turn, all sharing one teacher run and one query cache; each writes `<root>/<group>/<cl>/<kd>__s<seed>/`
 * (config.json, metrics.jsonl with one line per task, results.json). KD methods already finished are skipped.
 */
export async function runOneCell(spec: KdpCellSpec, root: string, options: { quiet?: boolean; log?: (line: string) => void } = {}): Promise<Map<string, CellResults>> {
  const log = options.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  const preset = resolveCell(spec);
  const out = new Map<string, CellResults>();
  const folders = spec.kd.map((kd) => {
    const folder = createRunFolder(root, {
      name: cellId(preset, spec.cl, kd, spec.seed),
      seed: spec.seed,
      config: { preset, clMethod: spec.cl, kdMethod: kd, seed: spec.seed, teacherWeights: spec.teacherWeights ?? null, studentWeights: spec.studentWeights ?? null },
    });
    return { kd, folder };
  });
  // Teacher-using methods first, so `none` (student alone) can also record the finished teacher run.
  const todo = folders
    .filter(({ kd, folder }) => {
      const done = folder.readResults<CellResults>();
      if (done) out.set(kd, done);
      return !done;
    })
    .sort((a, b) => Number(a.kd === 'none') - Number(b.kd === 'none'));
  if (todo.length === 0) return out;

  const needPool = !spec.teacherWeights || !spec.studentWeights;
  const data = await loadBenchData(preset, { ...(spec.dataRoot ? { root: spec.dataRoot } : {}), withPool: needPool });
  const common = { preset, ...(data.pool ? { pool: data.pool } : {}), test: data.test, log, ...(options.quiet ? { quiet: true } : {}) };
  const T = await prepareBackbone({ ...common, role: 'teacher', ...(spec.teacherWeights ? { weights: spec.teacherWeights } : {}) });
  const S = await prepareBackbone({ ...common, role: 'student', ...(spec.studentWeights ? { weights: spec.studentWeights } : {}) });
  const backbones = { teacher: T.backbone, student: S.backbone, query: S.backbone };
  const queries = new QueryCache(clsQueryFunction(S.backbone), { cache: preset.cache.queries });
  const usesTeacher = todo.some(({ kd }) => kd !== 'none');
  let progress: Progress | undefined;
  // The shared teacher keeps its own checkpoints (after every teacher task), so a killed cell does not retrain it.
  const teacherFolder = usesTeacher
    ? createRunFolder(root, {
        name: teacherRunId(preset, spec.cl, spec.seed),
        seed: spec.seed,
        config: { preset, clMethod: spec.cl, role: 'teacher', seed: spec.seed, teacherWeights: spec.teacherWeights ?? null, studentWeights: spec.studentWeights ?? null },
      })
    : undefined;
  const teacher = teacherFolder
    ? new TeacherStream({
        backbone: T.backbone,
        keyDim: S.backbone.embedDim,
        config: cdlConfig(preset, spec.cl, 'kd', spec.seed),
        numTasks: data.tasks.length,
        queries,
        callbacks: combineCallbacks<TeacherTaskEnd, StepInfo>(runFolderCheckpoints(teacherFolder), {
          onStepEnd: (info) => progress?.tick(1, { teacher: info.loss.toFixed(3) }),
        }),
      })
    : undefined;
  const totalSteps = data.tasks.reduce((n, t) => n + taskSteps(t.train.y.length, preset.training), 0);
  const failures: string[] = [];
  try {
    for (const { kd, folder } of todo) {
      const name = cellId(preset, spec.cl, kd, spec.seed);
      // Student steps, plus the teacher's when this KD method is the one that trains the shared teacher.
      const teacherSteps = kd !== 'none' && teacher && teacher.tasksTrained < data.tasks.length ? totalSteps : 0;
      const bar = createProgress({ total: totalSteps + teacherSteps, label: name, ...(options.quiet ? { silent: true } : {}) });
      progress = bar;
      try {
        const started = performance.now();
        // Per-task checkpoints in the KD run's folder: a killed run resumes at its last finished task.
        const res = await runContinualDistillation(data.tasks, backbones, cdlConfig(preset, spec.cl, kd, spec.seed), {
          ...(teacher ? { teacher } : {}),
          queries,
          callbacks: combineCallbacks<CdlTaskEnd, CdlStep>(runFolderCheckpoints(folder), {
            onStepEnd: (info) => void (info.role === 'student' && bar.tick(1, { student: info.loss.toFixed(3) })),
          }),
        });
        bar.stop();
        const teacherResult = res.teacher ?? (teacher && teacher.tasksTrained === data.tasks.length ? teacher.result() : undefined);
        const results: CellResults = {
          dataset: preset.data.dataset,
          numTasks: preset.data.numTasks,
          classesPerTask: preset.data.classesPerTask,
          clMethod: spec.cl,
          kdMethod: kd,
          seed: spec.seed,
          preset: preset.name,
          student: res.student,
          ...(teacherResult ? { teacher: teacherResult } : {}),
          backbones: { teacher: describe(T, preset.teacher), student: describe(S, preset.student) },
          images: data.counts,
          seconds: (performance.now() - started) / 1000,
        };
        folder.writeResults(results);
        out.set(kd, results);
        const s = res.student.summary;
        log(`${name}: Acc ${(100 * s.finalAccuracy).toFixed(2)}  Fgt ${(100 * s.forgetting).toFixed(2)}${teacherResult ? `  (teacher ${(100 * teacherResult.summary.finalAccuracy).toFixed(2)})` : ''}  ${results.seconds.toFixed(0)} s`);
      } catch (err) {
        bar.stop();
        folder.markFailed(err);
        failures.push(`${name}: ${(err as Error).message}`);
        log(`${name} FAILED: ${(err as Error).stack ?? String(err)}`);
      }
    }
  } finally {
    teacher?.dispose();
    queries.dispose();
    disposeTasks(data.tasks);
    T.vit.dispose();
    S.vit.dispose();
  }
  if (failures.length) throw new Error(`${failures.length} KD run(s) failed:\n${failures.join('\n')}`);
  return out;
}
