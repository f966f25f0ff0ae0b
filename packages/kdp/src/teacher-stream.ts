import * as tf from '@tensorflow/tfjs';
import { CheckpointError, ConfigError, Rng, combineCallbacks, type EpochEnd, type Resumable, type TrainCallbacks, type TrainingState } from '@promptkd/core';
import {
  PromptedClassifier,
  createClMethod,
  summarize,
  taskSteps,
  trainTask,
  type ClassIncrementalTask,
  type PromptableViT,
  type QuerySource,
  type StepInfo,
} from '@promptkd/continual';
import { cdlSeed } from './cdl-seed.js';
import type { CdlConfig, StreamResult } from './continual-distillation.js';
import { evaluateHeads, headHistory, recordHeads, type HeadHistory } from './head-accuracy.js';
import { LiveTeacher, computeTaskTeacherLogits, type TeacherSource } from './teacher.js';

/** What a {@link TeacherStream} reports after each of its tasks (its "epoch" in the training contract). */
export interface TeacherTaskEnd extends EpochEnd {
  /** The task just trained (= `epoch`). */
  readonly task: number;
  /** The teacher's accuracy (0..1) on the test set of every task seen so far. */
  readonly accuracies: readonly number[];
}

/** JSON part of a {@link TeacherStream}'s state; the tensors are `task<t>/<variable>` for each listed snapshot. */
export interface TeacherStreamState {
  /** Tasks trained. */
  readonly trained: number;
  /** Tasks whose parameter snapshot is in the tensors (always the last trained one). */
  readonly snapshots: readonly number[];
  readonly accuracy: readonly (readonly number[])[];
  readonly withinTask: Readonly<Record<string, readonly number[]>>;
  readonly lossPerEpoch: readonly (readonly number[])[];
  readonly seconds: number;
  /** Teacher optimisation steps so far. */
  readonly step: number;
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
  /** Shorthand for `callbacks.onStepEnd`. */
  readonly onStep?: (info: StepInfo) => void;
  /**
   * The training contract over the teacher's tasks: `onTrainBegin({epochs: tasks, steps, training: this})` before
   * the first task is trained (a checkpoint callback restores a saved stream here), every step, `onEpochEnd` after
   * every task with the stream's state, `onTrainEnd` after the last task.
   */
  readonly callbacks?: TrainCallbacks<TeacherTaskEnd, StepInfo>;
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/**
 * The teacher's own class-incremental run (plain CL objective, no KD; spec §2 step 1), trained task by task
 * on demand. After each task it is evaluated, its current-task training logits are cached (optional) and its
 * parameters are snapshotted, so ONE teacher run serves every KD method of a seed (the teacher never depends
 * on the student).
 *
 * A {@link Resumable}: its state after a task is the snapshots, the accuracy history and the counters; imported
 * into a stream built the same way (same config and seed), it continues as the original would (cached logits
 * are recomputed from the snapshots when needed, with the same batching, so they are bit-identical).
 */
export class TeacherStream implements Resumable<TeacherStreamState> {
  readonly model: PromptedClassifier;
  private history: HeadHistory = headHistory();
  private losses: number[][] = [];
  private readonly logits = new Map<number, tf.Tensor2D>();
  private readonly snapshots = new Map<number, Map<string, tf.Tensor>>();
  private readonly callbacks: TrainCallbacks<TeacherTaskEnd, StepInfo>;
  private trained = 0;
  private current = -1;
  private seconds = 0;
  private step = 0;
  private begun = false;

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
    this.callbacks = combineCallbacks<TeacherTaskEnd, StepInfo>(options.onStep ? { onStepEnd: options.onStep } : undefined, options.callbacks);
  }

  /** a[i][j] of the teacher's own run so far. */
  get accuracy(): readonly (readonly number[])[] {
    return this.history.accuracy;
  }

  /** Mean loss per epoch of every trained task. */
  get lossPerEpoch(): readonly (readonly number[])[] {
    return this.losses;
  }

  /** Tasks trained so far. */
  get tasksTrained(): number {
    return this.trained;
  }

  /**
   * Makes the teacher the one that has just finished task t: trains tasks up to t, or rewinds to the snapshot of
   * t; with cached teacher logits, makes sure task t's are there.
   */
  async ensureTask(tasks: readonly ClassIncrementalTask[], t: number): Promise<void> {
    if (!Number.isInteger(t) || t < 0 || t >= tasks.length) throw new ConfigError(`Task ${t} does not exist (stream has ${tasks.length}).`, { field: 'task' });
    if (!this.begun) {
      this.begun = true;
      const training = this.options.config.teacherTraining ?? this.options.config.training;
      const steps = tasks.reduce((n, task) => n + taskSteps(task.train.x.shape[0], training), 0);
      await this.callbacks.onTrainBegin?.({ epochs: tasks.length, steps, training: this });
    }
    while (this.trained <= t) await this.trainNext(tasks);
    if (this.current !== t) this.restore(t);
    const { config, queries } = this.options;
    if (config.cacheTeacherLogits && !this.logits.has(t)) {
      const task = tasks[t] as ClassIncrementalTask;
      this.logits.set(t, computeTaskTeacherLogits(this.model, task.train.x, task, queries, `train/${t}`, config.evalBatchSize ?? 64));
    }
  }

  private restore(t: number): void {
    const snap = this.snapshots.get(t);
    if (!snap) throw new ConfigError(`Teacher snapshot of task ${t} is missing; create the TeacherStream with keepSnapshots: true.`, { field: 'keepSnapshots' });
    for (const [name, v] of this.model.namedVariables()) v.assign(snap.get(name) as tf.Tensor);
    this.model.method.setTask(t);
    this.current = t;
  }

  private async trainNext(tasks: readonly ClassIncrementalTask[]): Promise<void> {
    const t = this.trained;
    const task = tasks[t] as ClassIncrementalTask;
    if (this.current !== t - 1 && t > 0) this.restore(t - 1);
    const start = performance.now();
    const { config, queries } = this.options;
    const training = config.teacherTraining ?? config.training;
    const offset = this.step;
    this.model.beforeTask(task);
    this.losses.push(
      await trainTask(this.model, task, training, {
        queries,
        rng: Rng.fromSeed(cdlSeed(config.seed, 'teacherBatches', t)),
        callbacks: { onStepEnd: (info) => this.callbacks.onStepEnd?.({ ...info, step: offset + info.step }) },
      }),
    );
    this.step = offset + taskSteps(task.train.x.shape[0], training);
    this.model.afterTask(task);
    const row = recordHeads(this.history, evaluateHeads((x, q, hi) => ({ prediction: this.model.predict(x, q, hi) }), tasks, t, queries, config.evalBatchSize));
    if (config.cacheTeacherLogits) {
      this.logits.set(t, computeTaskTeacherLogits(this.model, task.train.x, task, queries, `train/${t}`, config.evalBatchSize ?? 64));
    }
    if (this.options.keepSnapshots ?? true) this.snapshots.set(t, this.copyVariables());
    this.seconds += (performance.now() - start) / 1000;
    this.trained = t + 1;
    this.current = t;
    await this.callbacks.onEpochEnd?.({ epoch: t, task: t, step: this.step, accuracies: row, metrics: { accuracy: mean(row), loss: this.losses[t]?.at(-1) ?? Number.NaN }, training: this });
    if (this.trained === tasks.length) await this.callbacks.onTrainEnd?.({ epochs: tasks.length, step: this.step });
  }

  private copyVariables(): Map<string, tf.Tensor> {
    return new Map([...this.model.namedVariables()].map(([name, v]) => [name, tf.clone(v)]));
  }

  /** Teacher outputs for the student (cached logits when enabled). */
  source(): TeacherSource {
    return new LiveTeacher(this.model, (t) => this.logits.get(t));
  }

  /** The teacher's own result over the tasks trained so far. */
  result(): StreamResult {
    const { accuracy, withinTask } = this.history;
    return { accuracy, withinTask, summary: summarize(accuracy), lossPerEpoch: this.losses, seconds: this.seconds };
  }

  /** The stream after its last trained task: every kept snapshot (or the current parameters) and the history. */
  async exportState(): Promise<TrainingState<TeacherStreamState>> {
    const snaps = new Map(this.snapshots);
    if (this.trained > 0 && !snaps.has(this.trained - 1)) {
      if (this.current !== this.trained - 1) throw new ConfigError('The teacher stream was rewound without snapshots; it cannot be saved.', { field: 'keepSnapshots' });
      snaps.set(this.trained - 1, new Map(this.model.namedVariables()));
    }
    const tensors: Record<string, tf.Tensor> = {};
    for (const [t, snap] of snaps) for (const [name, v] of snap) tensors[`task${t}/${name}`] = tf.clone(v);
    const { accuracy, withinTask } = this.history;
    return {
      tensors,
      state: {
        trained: this.trained,
        snapshots: [...snaps.keys()].sort((a, b) => a - b),
        accuracy: accuracy.map((r) => [...r]),
        withinTask: Object.fromEntries(Object.entries(withinTask).map(([k, v]) => [k, [...v]])),
        lossPerEpoch: this.losses.map((r) => [...r]),
        seconds: this.seconds,
        step: this.step,
      },
    };
  }

  /** Continues from {@link TeacherStream.exportState} of a stream with the same config and seed. */
  async importState(saved: TrainingState<TeacherStreamState>): Promise<void> {
    const s = saved.state;
    const n = this.options.numTasks;
    if (!(Number.isInteger(s.trained) && s.trained >= 0 && s.trained <= n) || s.accuracy.length !== s.trained || s.lossPerEpoch.length !== s.trained) {
      throw new CheckpointError(`Cannot resume a ${n}-task teacher stream after task ${s.trained} (with ${s.accuracy.length} accuracy rows).`, { field: 'trained' });
    }
    if (s.trained > 0 && !s.snapshots.includes(s.trained - 1)) {
      throw new CheckpointError(`The saved teacher stream lacks the snapshot of its last task ${s.trained - 1}.`, { field: 'snapshots' });
    }
    const variables = this.model.namedVariables();
    const read = (t: number) =>
      new Map(
        [...variables].map(([name, v]) => {
          const x = saved.tensors[`task${t}/${name}`];
          if (!x) throw new CheckpointError(`The saved teacher stream lacks '${name}' of task ${t}.`, { variable: name, task: t });
          if (x.shape.join(',') !== v.shape.join(',')) {
            throw new CheckpointError(`Saved teacher '${name}' has shape [${x.shape.join(', ')}], the variable has [${v.shape.join(', ')}].`, { variable: name });
          }
          return [name, tf.clone(x)] as const;
        }),
      );
    const keep = this.options.keepSnapshots ?? true;
    const restored = new Map(s.snapshots.filter((t) => keep || t === s.trained - 1).map((t) => [t, read(t)] as const));
    this.clearCaches();
    for (const [t, snap] of restored) this.snapshots.set(t, snap);
    if (s.trained > 0) this.restore(s.trained - 1);
    if (!keep) {
      for (const snap of this.snapshots.values()) tf.dispose([...snap.values()]);
      this.snapshots.clear();
    }
    this.history = headHistory(s);
    this.losses = s.lossPerEpoch.map((r) => [...r]);
    this.seconds = s.seconds;
    this.step = s.step;
    this.trained = s.trained;
  }

  private clearCaches(): void {
    for (const t of this.logits.values()) t.dispose();
    for (const s of this.snapshots.values()) tf.dispose([...s.values()]);
    this.logits.clear();
    this.snapshots.clear();
  }

  dispose(): void {
    this.clearCaches();
    this.model.dispose();
  }
}
