import * as tf from '@tensorflow/tfjs';
import {
  ConfigError,
  Rng,
  combineCallbacks,
  resumableParts,
  resumableVariables,
  type EpochEnd,
  type Resumable,
  type TrainCallbacks,
} from '@promptkd/core';
import {
  PromptedClassifier,
  QueryCache,
  clsQueryFunction,
  createClMethod,
  summarize,
  taskSteps,
  trainTask,
  type ClassIncrementalTask,
  type ClSummary,
  type PromptableViT,
  type QuerySource,
  type StepInfo,
  type TaskTrainingOptions,
} from '@promptkd/continual';
import { cdlSeed } from './cdl-seed.js';
import { DistillationStudent } from './distillation-student.js';
import { evaluateHeads, headHistory, recordHeads, type HeadHistory } from './head-accuracy.js';
import { createKdMethod, kdMethodRegistry } from './registry.js';
import { TeacherStream, type TeacherStreamState } from './teacher-stream.js';
import type { KdHyperParams } from './types.js';

/** The three frozen ViTs of the CDL setting (spec §2, §10). */
export interface CdlBackbones {
  /** Teacher backbone (width D_T). */
  readonly teacher: PromptableViT;
  /** Student backbone (width D_S). */
  readonly student: PromptableViT;
  /** Shared query ViT (student size, usually the student backbone itself). */
  readonly query: PromptableViT;
}

/** Settings of a continual-distillation run. */
export interface CdlConfig {
  /** CL method key (`l2p`, `dualprompt`, `coda`) — used by teacher AND student. */
  readonly clMethod: string;
  /** Overrides of the CL method's defaults (same for teacher and student). */
  readonly clConfig?: Readonly<Record<string, unknown>>;
  /** KD method key (`none`, `kd`, `dkd`, `fitnets`, `reviewkd`, `deit`, `kdp`). */
  readonly kdMethod: string;
  readonly hyper: KdHyperParams;
  /** C — number of classes over the stream. */
  readonly numClasses: number;
  /** Optimisation per task (teacher and student; spec §2). */
  readonly training: TaskTrainingOptions;
  /** Teacher optimisation if different. */
  readonly teacherTraining?: TaskTrainingOptions;
  /** Seed: prompt init and batch order. Same seed ⇒ same student init/batches for every KD method (paired). */
  readonly seed: number;
  /** Cache q(x) per image (exact without augmentation; spec §8.1). */
  readonly cacheQueries: boolean;
  /** Cache the teacher's current-task logits on the training images (exact without augmentation). */
  readonly cacheTeacherLogits: boolean;
  readonly evalBatchSize?: number;
}

/** Accuracy matrix (0..1) and summary of one network over the stream. */
export interface StreamResult {
  /** a[i][j]: accuracy of the reported prediction on task j's test set after task i (seen classes). */
  readonly accuracy: number[][];
  /** Token methods: the same matrix for the class head alone (`g`) and the KD head alone (`k`). */
  readonly heads?: Record<string, number[][]>;
  /**
   * Per head (`prediction`, and `g`, `k` for token methods): accuracy on the just-learned task t's test set with
   * the argmax over task t's classes only, one entry per task (did the task's training signal get learnt?).
   */
  readonly withinTask: Record<string, number[]>;
  readonly summary: ClSummary;
  readonly lossPerEpoch: number[][];
  /** Wall time spent training + evaluating, seconds. */
  readonly seconds: number;
}

/** Result of {@link runContinualDistillation}. */
export interface CdlResult {
  readonly student: StreamResult;
  /** The teacher's run (absent for `none` when no teacher was given). */
  readonly teacher?: StreamResult;
}

/**
 * State to resume a student run after task `fromTask − 1` (saved from `onTaskEnd` with
 * {@link exportStudentState}). The teacher is re-trained deterministically up to the resumed task (or taken
 * from a shared {@link TeacherStream}), so a resumed run reaches the same result as an uninterrupted one.
 * (The {@link TrainCallbacks} state of {@link runContinualDistillation} also carries an owned teacher.)
 */
export interface CdlResume {
  /** First task still to train. */
  readonly fromTask: number;
  /** The student's variables after task `fromTask − 1`, by name ({@link DistillationStudent.namedVariables}). */
  readonly studentState: ReadonlyMap<string, tf.Tensor>;
  readonly accuracy: readonly (readonly number[])[];
  /** Head matrices and within-task accuracies so far ({@link StreamResult}). */
  readonly heads?: Readonly<Record<string, readonly (readonly number[])[]>>;
  readonly withinTask?: Readonly<Record<string, readonly number[]>>;
  readonly lossPerEpoch: readonly (readonly number[])[];
  readonly seconds?: number;
}

/** JSON part of {@link runContinualDistillation}'s state after a task (`progress` part; tensors `student/<name>`). */
export interface CdlProgress {
  /** Tasks finished (= the next task to train). */
  readonly tasks: number;
  /** Student optimisation steps so far. */
  readonly step: number;
  readonly accuracy: readonly (readonly number[])[];
  readonly heads: Readonly<Record<string, readonly (readonly number[])[]>>;
  readonly withinTask: Readonly<Record<string, readonly number[]>>;
  readonly lossPerEpoch: readonly (readonly number[])[];
  readonly seconds: number;
}

/** The whole saved state: `progress`, `student` (variables) and, when the run owns its teacher, `teacher`. */
export type CdlState = { readonly progress: CdlProgress; readonly student: null; readonly teacher?: TeacherStreamState };

/** What {@link runContinualDistillation} reports after each task (its "epoch" in the training contract). */
export interface CdlTaskEnd extends EpochEnd {
  /** The task just finished (= `epoch`). */
  readonly task: number;
  /** Student accuracy (0..1) on the test set of every seen task (the reported prediction). */
  readonly student: readonly number[];
  /** The teacher's, when the method uses one. */
  readonly teacher?: readonly number[];
}

/** A step of the student or of the teacher (each counts its own steps). */
export interface CdlStep extends StepInfo {
  readonly role: 'teacher' | 'student';
}

/** Host copies of a student's variables (for a checkpoint; write them e.g. with safetensors). */
export function exportStudentState(student: DistillationStudent): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const [k, v] of student.namedVariables()) out.set(k, tf.clone(v));
  return out;
}

/** Assigns saved values to a student's variables; throws a ConfigError on missing or mis-shaped entries. */
export function importStudentState(student: DistillationStudent, state: ReadonlyMap<string, tf.Tensor>): void {
  for (const [k, v] of student.namedVariables()) {
    const t = state.get(k);
    if (!t) throw new ConfigError(`Checkpoint has no value for student variable '${k}'.`, { field: k });
    if (t.shape.join(',') !== v.shape.join(',')) {
      throw new ConfigError(`Checkpoint value '${k}' has shape [${t.shape.join(', ')}], the student needs [${v.shape.join(', ')}].`, { field: k });
    }
    v.assign(t);
  }
}

/** Options of {@link runContinualDistillation}. */
export interface CdlRunOptions {
  /** Continue an interrupted run (see {@link CdlResume}); the callbacks' `onTrainBegin` is the other way. */
  readonly resume?: CdlResume;
  /** A teacher stream to reuse across KD methods (same config.seed / CL method). Created and disposed here when absent. */
  readonly teacher?: TeacherStream;
  /** Query source to share (e.g. with the teacher stream). Created here when absent. */
  readonly queries?: QuerySource;
  /** Shorthand for `callbacks.onStepEnd`, by role. */
  readonly onStep?: (role: 'teacher' | 'student', info: StepInfo) => void;
  /**
   * After each task: accuracies of the student (and teacher) on the seen tasks, and the live objects (e.g. to
   * save `student.namedVariables()` as a checkpoint).
   */
  readonly onTaskEnd?: (
    task: number,
    student: number[],
    teacher: readonly number[] | undefined,
    handles: { readonly student: DistillationStudent; readonly teacher: TeacherStream | undefined },
  ) => void;
  /**
   * The training contract, one "epoch" per task: `onTrainBegin({epochs: tasks, steps: student steps, training})`
   * (a checkpoint callback restores a saved run here), every student and teacher step, `onEpochEnd` after every
   * task with the run's {@link Resumable} state (exact at task boundaries), `onTrainEnd`.
   */
  readonly callbacks?: TrainCallbacks<CdlTaskEnd, CdlStep>;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/**
 * Continual distillation (spec §2, §10): for each task t, (1) train the teacher on task t (CE + key loss),
 * (2) freeze it (eval mode, no gradient, current-task logits), (3) train the student on task t with the KD
 * method's loss, then evaluate both on all seen tasks. KD parts persist across tasks; the optimiser is
 * re-created per task.
 *
 * Follows the {@link TrainCallbacks} contract with one epoch per task. Its {@link Resumable} state after task t
 * is the student's variables, the accuracy history and (when the run trains its own teacher) the teacher stream,
 * so a run restored from it in a fresh process continues bit-identical to an uninterrupted one.
 */
export async function runContinualDistillation(
  tasks: readonly ClassIncrementalTask[],
  backbones: CdlBackbones,
  config: CdlConfig,
  options: CdlRunOptions = {},
): Promise<CdlResult> {
  if (!kdMethodRegistry.has(config.kdMethod)) kdMethodRegistry.get(config.kdMethod); // throws with the valid keys
  const keyDim = backbones.query.embedDim;
  const cb = combineCallbacks<CdlTaskEnd, CdlStep>(options.onStep ? { onStepEnd: (i) => options.onStep?.(i.role, i) } : undefined, options.callbacks);
  const ownQueries = options.queries === undefined;
  const queries = options.queries ?? new QueryCache(clsQueryFunction(backbones.query), { cache: config.cacheQueries });
  const method = createKdMethod(config.kdMethod, {
    hyper: config.hyper,
    studentDim: backbones.student.embedDim,
    studentDepth: backbones.student.depth,
    teacherDim: backbones.teacher.embedDim,
    teacherDepth: backbones.teacher.depth,
    numClasses: config.numClasses,
    rng: Rng.fromSeed(cdlSeed(config.seed, 'kdParts')),
  });
  const ownTeacher = method.usesTeacher && options.teacher === undefined;
  const teacher =
    options.teacher ??
    (method.usesTeacher
      ? new TeacherStream({
          backbone: backbones.teacher,
          keyDim,
          config,
          numTasks: tasks.length,
          queries,
          keepSnapshots: false,
          onStep: (i: StepInfo) => cb.onStepEnd?.({ ...i, role: 'teacher' }),
        })
      : undefined);
  const studentMethod = createClMethod(config.clMethod, {
    embedDim: backbones.student.embedDim,
    keyDim,
    numTasks: tasks.length,
    rng: Rng.fromSeed(cdlSeed(config.seed, 'studentPrompts')),
    ...(config.clConfig ? { config: config.clConfig } : {}),
  });
  const student = new DistillationStudent(
    new PromptedClassifier(backbones.student, studentMethod, config.numClasses, Rng.fromSeed(cdlSeed(config.seed, 'studentHead')), 'last'),
    method,
    teacher?.source(),
  );
  let history: HeadHistory = headHistory();
  let lossPerEpoch: number[][] = [];
  let seconds = 0;
  let done = 0;
  let step = 0;
  let atTaskBoundary = true;
  const progress: Resumable<CdlProgress> = {
    async exportState() {
      if (!atTaskBoundary) throw new ConfigError('A continual-distillation run is exact only between tasks; save it in onEpochEnd.', { field: 'checkpoint' });
      const { accuracy, heads, withinTask } = headHistory(history);
      return { tensors: {}, state: { tasks: done, step, accuracy, heads, withinTask, lossPerEpoch: lossPerEpoch.map((r) => [...r]), seconds } };
    },
    async importState(saved) {
      const s = saved.state;
      if (!(Number.isInteger(s.tasks) && s.tasks >= 0 && s.tasks <= tasks.length) || s.accuracy.length !== s.tasks || s.lossPerEpoch.length !== s.tasks) {
        throw new ConfigError(`Cannot resume a ${tasks.length}-task run after task ${s.tasks} (with ${s.accuracy.length} accuracy rows).`, { field: 'resume' });
      }
      if (done !== 0) throw new ConfigError('A continual-distillation run can only be restored before its first task.', { field: 'resume' });
      for (let t = 0; t < s.tasks; t++) student.beforeTask(tasks[t] as ClassIncrementalTask); // task counters
      history = headHistory(s);
      lossPerEpoch = s.lossPerEpoch.map((r) => [...r]);
      seconds = s.seconds;
      step = s.step;
      done = s.tasks;
    },
  };
  const training = resumableParts(
    { progress, student: resumableVariables(() => student.namedVariables()), ...(ownTeacher && teacher ? { teacher } : {}) },
    { optional: ['teacher'] },
  ) as Resumable<CdlState>;
  try {
    if (options.resume) {
      const r = options.resume;
      if (!Number.isInteger(r.fromTask) || r.fromTask < 1 || r.fromTask > tasks.length || r.accuracy.length !== r.fromTask) {
        throw new ConfigError(`Cannot resume at task ${r.fromTask}: need 1 <= fromTask <= ${tasks.length} and one accuracy row per finished task.`, {
          field: 'resume.fromTask',
        });
      }
      const finished = r.lossPerEpoch.slice(0, r.fromTask);
      const steps = tasks.slice(0, r.fromTask).reduce((n, task) => n + taskSteps(task.train.x.shape[0], config.training), 0);
      const prior = headHistory(r);
      const state: CdlProgress = { tasks: r.fromTask, step: steps, ...prior, lossPerEpoch: finished, seconds: r.seconds ?? 0 };
      await progress.importState({ tensors: {}, state });
      importStudentState(student, r.studentState);
    }
    const steps = tasks.reduce((n, task) => n + taskSteps(task.train.x.shape[0], config.training), 0);
    await cb.onTrainBegin?.({ epochs: tasks.length, steps, training });
    for (let t = done; t < tasks.length; t++) {
      const task = tasks[t] as ClassIncrementalTask;
      atTaskBoundary = false;
      if (teacher && method.usesTeacher) await teacher.ensureTask(tasks, t);
      const start = performance.now();
      const offset = step;
      student.beforeTask(task);
      lossPerEpoch.push(
        await trainTask(student, task, config.training, {
          queries,
          rng: Rng.fromSeed(cdlSeed(config.seed, 'studentBatches', t)),
          callbacks: { onStepEnd: (i) => cb.onStepEnd?.({ ...i, step: offset + i.step, role: 'student' }) },
        }),
      );
      step = offset + taskSteps(task.train.x.shape[0], config.training);
      student.afterTask(task);
      const row = recordHeads(history, evaluateHeads((x, q, hi) => student.headScores(x, q, hi), tasks, t, queries, config.evalBatchSize));
      seconds += (performance.now() - start) / 1000;
      done = t + 1;
      atTaskBoundary = true;
      const teacherRow = method.usesTeacher ? teacher?.accuracy[t] : undefined;
      options.onTaskEnd?.(t, row, teacherRow, { student, teacher });
      await cb.onEpochEnd?.({
        epoch: t,
        task: t,
        step,
        student: row,
        ...(teacherRow ? { teacher: teacherRow } : {}),
        metrics: { accuracy: mean(row), ...(teacherRow ? { teacherAccuracy: mean(teacherRow) } : {}), loss: lossPerEpoch[t]?.at(-1) ?? Number.NaN, seconds },
        training,
      });
    }
    await cb.onTrainEnd?.({ epochs: tasks.length, step });
    const { accuracy, heads, withinTask } = history;
    const studentResult: StreamResult = {
      accuracy,
      ...(Object.keys(heads).length ? { heads } : {}),
      withinTask,
      summary: summarize(accuracy),
      lossPerEpoch,
      seconds,
    };
    return teacher && teacher.tasksTrained > 0 ? { student: studentResult, teacher: teacher.result() } : { student: studentResult };
  } finally {
    student.dispose();
    if (ownTeacher) teacher?.dispose();
    if (ownQueries) queries.dispose();
  }
}
