import * as tf from '@tensorflow/tfjs';
import { ConfigError, Rng } from '@promptkd/core';
import {
  PromptedClassifier,
  QueryCache,
  clsQueryFunction,
  createClMethod,
  summarize,
  trainTask,
  type ClassIncrementalTask,
  type ClSummary,
  type PromptableViT,
  type QuerySource,
  type StepInfo,
  type TaskTrainingOptions,
} from '@promptkd/continual';
import { DistillationStudent } from './distillation-student.js';
import { evaluateHeads, headHistory, recordHeads, type HeadHistory } from './head-accuracy.js';
import { createKdMethod, kdMethodRegistry } from './registry.js';
import { LiveTeacher, computeTaskTeacherLogits, type TeacherSource } from './teacher.js';
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

/** The random streams of a continual-distillation run, one per role (and per task for batch orders). */
export const CDL_SEED_ROLES = ['teacherPrompts', 'teacherHead', 'studentPrompts', 'studentHead', 'kdParts', 'teacherBatches', 'studentBatches'] as const;
/** A role of {@link cdlSeed}. */
export type CdlSeedRole = (typeof CDL_SEED_ROLES)[number];

/** Tasks per stream that {@link cdlSeed} keeps apart (2^12). */
const CDL_MAX_TASKS = 4096;

/** murmur3's 32-bit finaliser: a bijection on 32-bit integers that spreads neighbouring inputs. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/**
 * Deterministic seed of one role (and task) of a run. Same `seed` ⇒ same student prompt init, head and batch
 * order for every KD method (paired comparisons). Every (seed, role, task) gets its own stream: the triple is
 * packed injectively into 32 bits ((seed·7 + role)·4096 + task, injective for |seed| < 74 898) and then mixed
 * by a bijection, so no two roles, tasks or seeds in that range share a seed.
 */
export function cdlSeed(seed: number, role: CdlSeedRole, task = 0): number {
  const r = CDL_SEED_ROLES.indexOf(role);
  if (r < 0) throw new ConfigError(`Unknown seed role '${String(role)}'. Valid: ${CDL_SEED_ROLES.join(', ')}.`, { field: 'role', valid: CDL_SEED_ROLES });
  if (!Number.isInteger(seed)) throw new ConfigError(`The run seed must be an integer, got ${seed}.`, { field: 'seed' });
  if (!Number.isInteger(task) || task < 0 || task >= CDL_MAX_TASKS) {
    throw new ConfigError(`Task index ${task} is outside [0, ${CDL_MAX_TASKS}).`, { field: 'task' });
  }
  const packed = (Math.imul(Math.imul(seed, CDL_SEED_ROLES.length) + r, CDL_MAX_TASKS) + task) | 0;
  return fmix32(packed);
}

/** Options of {@link TeacherStream}. */
export interface TeacherStreamOptions {
  readonly backbone: PromptableViT;
  /** D_q of the shared query ViT. */
  readonly keyDim: number;
  readonly config: CdlConfig;
  readonly numTasks: number;
  readonly queries: QuerySource;
  /** Keep a snapshot of the teacher prompts/head after every task, so a later student run can rewind it. Default true. */
  readonly keepSnapshots?: boolean;
  readonly onStep?: (info: StepInfo) => void;
}

/**
 * The teacher's own class-incremental run (plain CL objective, no KD; spec §2 step 1), trained task by task
 * on demand. After each task it is evaluated, its current-task training logits are cached (optional) and its
 * parameters are snapshotted, so ONE teacher run serves every KD method of a seed (the teacher never depends
 * on the student).
 */
export class TeacherStream {
  readonly model: PromptedClassifier;
  private readonly history: HeadHistory = headHistory();
  readonly lossPerEpoch: number[][] = [];
  private readonly logits = new Map<number, tf.Tensor2D>();
  private readonly snapshots = new Map<number, tf.Tensor[]>();
  private trained = 0;
  private seconds = 0;

  constructor(private readonly options: TeacherStreamOptions) {
    const { config, backbone, keyDim, numTasks } = options;
    const method = createClMethod(config.clMethod, {
      embedDim: backbone.embedDim,
      keyDim,
      numTasks,
      rng: Rng.fromSeed(cdlSeed(config.seed, 'teacherPrompts')),
      ...(config.clConfig ? { config: config.clConfig } : {}),
    });
    this.model = new PromptedClassifier(backbone, method, config.numClasses, Rng.fromSeed(cdlSeed(config.seed, 'teacherHead')), 'last');
  }

  /** a[i][j] of the teacher's own run so far. */
  get accuracy(): readonly number[][] {
    return this.history.accuracy;
  }

  /** Tasks trained so far. */
  get tasksTrained(): number {
    return this.trained;
  }

  /** Makes the teacher the one that has just finished task t: trains tasks up to t, or rewinds to the snapshot of t. */
  async ensureTask(tasks: readonly ClassIncrementalTask[], t: number): Promise<void> {
    while (this.trained <= t) await this.trainNext(tasks);
    if (this.current === t) return;
    const snap = this.snapshots.get(t);
    if (!snap) throw new ConfigError(`Teacher snapshot of task ${t} is missing; create the TeacherStream with keepSnapshots: true.`, { field: 'keepSnapshots' });
    this.restore(t);
  }

  private restore(t: number): void {
    const snap = this.snapshots.get(t) as tf.Tensor[];
    this.model.trainableVariables().forEach((v, i) => v.assign(snap[i] as tf.Tensor));
    this.model.method.setTask(t);
    this.current = t;
  }

  private current = -1;

  private async trainNext(tasks: readonly ClassIncrementalTask[]): Promise<void> {
    const t = this.trained;
    const task = tasks[t];
    if (!task) throw new ConfigError(`Task ${t} does not exist (stream has ${tasks.length}).`, { field: 'tasks' });
    if (this.current !== t - 1 && t > 0) this.restore(t - 1);
    const start = performance.now();
    const { config, queries } = this.options;
    this.model.beforeTask(task);
    this.lossPerEpoch.push(
      await trainTask(this.model, task, config.teacherTraining ?? config.training, {
        queries,
        rng: Rng.fromSeed(cdlSeed(config.seed, 'teacherBatches', t)),
        ...(this.options.onStep ? { onStep: this.options.onStep } : {}),
      }),
    );
    this.model.afterTask(task);
    recordHeads(this.history, evaluateHeads((x, q, hi) => ({ prediction: this.model.predict(x, q, hi) }), tasks, t, queries, config.evalBatchSize));
    if (config.cacheTeacherLogits) {
      this.logits.set(t, computeTaskTeacherLogits(this.model, task.train.x, task, queries, `train/${t}`, config.evalBatchSize ?? 64));
    }
    if (this.options.keepSnapshots ?? true) this.snapshots.set(t, this.model.trainableVariables().map((v) => tf.clone(v)));
    this.seconds += (performance.now() - start) / 1000;
    this.trained = t + 1;
    this.current = t;
  }

  /** Teacher outputs for the student (cached logits when enabled). */
  source(): TeacherSource {
    return new LiveTeacher(this.model, (t) => this.logits.get(t));
  }

  /** The teacher's own result over the tasks trained so far. */
  result(): StreamResult {
    const { accuracy, withinTask } = this.history;
    return { accuracy, withinTask, summary: summarize(accuracy), lossPerEpoch: this.lossPerEpoch, seconds: this.seconds };
  }

  dispose(): void {
    for (const t of this.logits.values()) t.dispose();
    for (const s of this.snapshots.values()) tf.dispose(s);
    this.logits.clear();
    this.snapshots.clear();
    this.model.dispose();
  }
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
  /** Continue an interrupted run (see {@link CdlResume}). */
  readonly resume?: CdlResume;
  /** A teacher stream to reuse across KD methods (same config.seed / CL method). Created and disposed here when absent. */
  readonly teacher?: TeacherStream;
  /** Query source to share (e.g. with the teacher stream). Created here when absent. */
  readonly queries?: QuerySource;
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
}

/**
 * Continual distillation (spec §2, §10): for each task t, (1) train the teacher on task t (CE + key loss),
 * (2) freeze it (eval mode, no gradient, current-task logits), (3) train the student on task t with the KD
 * method's loss, then evaluate both on all seen tasks. KD parts persist across tasks; the optimiser is
 * re-created per task.
 */
export async function runContinualDistillation(
  tasks: readonly ClassIncrementalTask[],
  backbones: CdlBackbones,
  config: CdlConfig,
  options: CdlRunOptions = {},
): Promise<CdlResult> {
  if (!kdMethodRegistry.has(config.kdMethod)) kdMethodRegistry.get(config.kdMethod); // throws with the valid keys
  const keyDim = backbones.query.embedDim;
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
          ...(options.onStep ? { onStep: (i: StepInfo) => options.onStep?.('teacher', i) } : {}),
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
  let history = headHistory();
  const lossPerEpoch: number[][] = [];
  let seconds = 0;
  const resume = options.resume;
  const startTask = resume?.fromTask ?? 0;
  try {
    if (resume) {
      if (!Number.isInteger(startTask) || startTask < 1 || startTask > tasks.length || resume.accuracy.length !== startTask) {
        throw new ConfigError(`Cannot resume at task ${startTask}: need 1 <= fromTask <= ${tasks.length} and one accuracy row per finished task.`, {
          field: 'resume.fromTask',
        });
      }
      for (let t = 0; t < startTask; t++) student.beforeTask(tasks[t] as ClassIncrementalTask); // CODA rows, task counters
      importStudentState(student, resume.studentState);
      history = headHistory(resume);
      lossPerEpoch.push(...resume.lossPerEpoch.map((r) => [...r]));
      seconds = resume.seconds ?? 0;
    }
    for (const [t, task] of tasks.entries()) {
      if (t < startTask) continue;
      if (teacher && method.usesTeacher) await teacher.ensureTask(tasks, t);
      const start = performance.now();
      student.beforeTask(task);
      lossPerEpoch.push(
        await trainTask(student, task, config.training, {
          queries,
          rng: Rng.fromSeed(cdlSeed(config.seed, 'studentBatches', t)),
          ...(options.onStep ? { onStep: (i: StepInfo) => options.onStep?.('student', i) } : {}),
        }),
      );
      student.afterTask(task);
      const row = recordHeads(history, evaluateHeads((x, q, hi) => student.headScores(x, q, hi), tasks, t, queries, config.evalBatchSize));
      seconds += (performance.now() - start) / 1000;
      options.onTaskEnd?.(t, row, teacher?.accuracy[t], { student, teacher });
    }
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
