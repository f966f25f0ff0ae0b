import { combineCallbacks } from '@promptkd/core';
import { QueryCache, clsQueryFunction, taskSteps, type StepInfo } from '@promptkd/continual';
import { disposeTensorTasks } from '@promptkd/datasets/node';
import { createProgress, createRunFolder, runFolderCheckpoints, type Progress } from '@promptkd/experiments';
import { prepareCdlBackbone, type PreparedCdlBackbone } from './cdl-backbone.js';
import { cdlConfigOf } from './cdl-config-of.js';
import { loadCdlData } from './cdl-data.js';
import type { CdlBackboneInfo, CdlCellResults } from './cdl-results.js';
import { cdlRunName, cdlTeacherRunName } from './cdl-run-names.js';
import { runContinualDistillation, type CdlStep, type CdlTaskEnd } from './continual-distillation.js';
import type { KdpRunPreset, VitShape } from './presets.js';
import { TeacherStream, type TeacherTaskEnd } from './teacher-stream.js';

/** Options of {@link runCdlCell}. */
export interface RunCdlCellOptions {
  /** The resolved, validated preset (split, backbones and overrides applied). */
  readonly preset: KdpRunPreset;
  /** CL method key (`coda`, `dualprompt`, `l2p`), for teacher and student. */
  readonly clMethod: string;
  /** KD methods run in turn on one shared teacher run (`kdMethodRegistry` keys). */
  readonly kdMethods: readonly string[];
  readonly seed: number;
  /** Grid root: every KD method writes `<root>/<cdlRunName(...)>`, the shared teacher `<root>/<cdlTeacherRunName(...)>`. */
  readonly root: string;
  /** Folder with the dataset's files (else the usual cache / system locations). */
  readonly dataRoot?: string;
  /** timm ViT checkpoints (safetensors) instead of the in-app pretrained backbones. */
  readonly teacherWeights?: string;
  readonly studentWeights?: string;
  /** Model cache of the in-app pretrained backbones (default: `@promptkd/models`' `modelCacheDir()`). */
  readonly cacheDir?: string;
  /** No progress bars. */
  readonly quiet?: boolean;
  readonly log?: (line: string) => void;
}

const describeBackbone = (b: PreparedCdlBackbone, shape: VitShape): CdlBackboneInfo => ({
  weights: b.weights,
  dim: shape.dim,
  depth: shape.depth,
  ...(b.pretrainTestAccuracy !== undefined ? { pretrainTestAccuracy: b.pretrainTestAccuracy } : {}),
});

/**
 * Runs one CDL cell — a dataset split, a CL method and a seed with one or more KD methods — into run folders: loads
 * the stream ({@link loadCdlData}) and the frozen backbones ({@link prepareCdlBackbone}), then every KD method in
 * turn, all sharing one teacher run ({@link TeacherStream}, checkpointed after every teacher task in its own folder)
 * and one query cache. Each KD method writes `<root>/<group>/<cl>/<kd>__s<seed>/` (`config.json`, `metrics.jsonl`
 * with a line per task, per-task checkpoints, `results.json` = {@link CdlCellResults}). KD methods already finished
 * are skipped, a killed one resumes at its last finished task. A KD method that fails is marked failed in its folder
 * and the others still run; then the call throws naming every failure. Returns the results by KD method.
 *
 * @example
 * ```ts
 * const results = await runCdlCell({ preset: kdpPresets.smoke, clMethod: 'coda', kdMethods: ['none', 'kdp'], seed: 0, root: 'runs/kdp' });
 * results.get('kdp')?.student.summary.finalAccuracy;
 * ```
 */
export async function runCdlCell(options: RunCdlCellOptions): Promise<Map<string, CdlCellResults>> {
  const { preset, clMethod: cl, seed, root } = options;
  const log = options.log ?? (() => {});
  const weightsConfig = { teacherWeights: options.teacherWeights ?? null, studentWeights: options.studentWeights ?? null };
  const out = new Map<string, CdlCellResults>();
  const folders = options.kdMethods.map((kd) => {
    const folder = createRunFolder(root, {
      name: cdlRunName(preset, cl, kd, seed),
      seed,
      config: { preset, clMethod: cl, kdMethod: kd, seed, ...weightsConfig },
    });
    return { kd, folder };
  });
  // Teacher-using methods first, so `none` (student alone) can also record the finished teacher run.
  const todo = folders
    .filter(({ kd, folder }) => {
      const done = folder.readResults<CdlCellResults>();
      if (done) out.set(kd, done);
      return !done;
    })
    .sort((a, b) => Number(a.kd === 'none') - Number(b.kd === 'none'));
  if (todo.length === 0) return out;

  const needPool = !options.teacherWeights || !options.studentWeights;
  const data = await loadCdlData(preset, { ...(options.dataRoot ? { root: options.dataRoot } : {}), withPool: needPool });
  const common = {
    preset,
    ...(data.pool ? { pool: data.pool } : {}),
    test: data.test,
    log,
    ...(options.cacheDir ? { cacheDir: options.cacheDir } : {}),
    ...(options.quiet ? { quiet: true } : {}),
  };
  let T: PreparedCdlBackbone | undefined;
  let S: PreparedCdlBackbone | undefined;
  let queries: QueryCache | undefined;
  let teacher: TeacherStream | undefined;
  const failures: string[] = [];
  try {
    T = await prepareCdlBackbone({ ...common, role: 'teacher', ...(options.teacherWeights ? { weights: options.teacherWeights } : {}) });
    S = await prepareCdlBackbone({ ...common, role: 'student', ...(options.studentWeights ? { weights: options.studentWeights } : {}) });
    const backbones = { teacher: T.backbone, student: S.backbone, query: S.backbone };
    queries = new QueryCache(clsQueryFunction(S.backbone), { cache: preset.cache.queries });
    let progress: Progress | undefined;
    if (todo.some(({ kd }) => kd !== 'none')) {
      // The shared teacher keeps its own checkpoints (after every teacher task), so a killed cell does not retrain it.
      const teacherFolder = createRunFolder(root, {
        name: cdlTeacherRunName(preset, cl, seed),
        seed,
        config: { preset, clMethod: cl, role: 'teacher', seed, ...weightsConfig },
      });
      teacher = new TeacherStream({
        backbone: T.backbone,
        keyDim: S.backbone.embedDim,
        config: cdlConfigOf(preset, cl, 'kd', seed),
        numTasks: data.tasks.length,
        queries,
        callbacks: combineCallbacks<TeacherTaskEnd, StepInfo>(runFolderCheckpoints(teacherFolder), {
          onStepEnd: (info) => progress?.tick(1, { teacher: info.loss.toFixed(3) }),
        }),
      });
    }
    const totalSteps = data.tasks.reduce((n, t) => n + taskSteps(t.train.y.length, preset.training), 0);
    for (const { kd, folder } of todo) {
      const name = cdlRunName(preset, cl, kd, seed);
      // Student steps, plus the teacher's when this KD method is the one that trains the shared teacher.
      const teacherSteps = kd !== 'none' && teacher && teacher.tasksTrained < data.tasks.length ? totalSteps : 0;
      const bar = createProgress({ total: totalSteps + teacherSteps, label: name, ...(options.quiet ? { silent: true } : {}) });
      progress = bar;
      try {
        const started = performance.now();
        // Per-task checkpoints in the KD run's folder: a killed run resumes at its last finished task.
        const res = await runContinualDistillation(data.tasks, backbones, cdlConfigOf(preset, cl, kd, seed), {
          ...(teacher ? { teacher } : {}),
          queries,
          callbacks: combineCallbacks<CdlTaskEnd, CdlStep>(runFolderCheckpoints(folder), {
            onStepEnd: (info) => void (info.role === 'student' && bar.tick(1, { student: info.loss.toFixed(3) })),
          }),
        });
        bar.stop();
        const teacherResult = res.teacher ?? (teacher && teacher.tasksTrained === data.tasks.length ? teacher.result() : undefined);
        const results: CdlCellResults = {
          dataset: preset.data.dataset,
          numTasks: preset.data.numTasks,
          classesPerTask: preset.data.classesPerTask,
          clMethod: cl,
          kdMethod: kd,
          seed,
          preset: preset.name,
          student: res.student,
          ...(teacherResult ? { teacher: teacherResult } : {}),
          backbones: { teacher: describeBackbone(T, preset.teacher), student: describeBackbone(S, preset.student) },
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
    queries?.dispose();
    disposeTensorTasks(data.tasks);
    T?.vit.dispose();
    S?.vit.dispose();
  }
  if (failures.length) throw new Error(`${failures.length} KD run(s) failed:\n${failures.join('\n')}`);
  return out;
}
