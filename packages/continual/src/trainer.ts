import * as tf from '@tensorflow/tfjs';
import {
  ConfigError,
  adam,
  assertFinite,
  combineCallbacks,
  resumableOptimizer,
  resumableParts,
  resumableVariables,
  scheduledLr,
  type EpochEnd,
  type FusedAdamOptimizer,
  type LrScheduleName,
  type OptimizerState,
  type Resumable,
  type Rng,
  type RngState,
  type StepEnd,
  type TaskContext,
  type TrainCallbacks,
} from '@promptkd/core';
import { summarize, type ClSummary } from './metrics.js';
import type { QuerySource } from './query.js';
import type { Batch, ClassIncrementalTask, LabeledImages, Learner } from './types.js';

/** Optimisation settings of one task (spec §2: Adam 1e-3, bs 64, E epochs, CODA cosine, reset per task). */
export interface TaskTrainingOptions {
  /** E — epochs per task. */
  readonly epochs: number;
  readonly batchSize: number;
  /** lr0 (1e-3). */
  readonly lr: number;
  /** Per-epoch schedule (default `coda-cosine`). */
  readonly schedule?: LrScheduleName;
  /** Drop the last incomplete batch (reference: true). If the split is smaller than a batch, one batch is used. */
  readonly dropLast?: boolean;
  /** Cap on steps per epoch (tests / smoke runs). */
  readonly maxStepsPerEpoch?: number;
}

/** Progress of one optimisation step (a {@link StepEnd} with the task). */
export interface StepInfo extends StepEnd {
  readonly task: number;
  readonly lr: number;
  readonly terms: Readonly<Record<string, number>>;
}

/** What {@link trainTask} reports after every epoch. */
export interface TaskEpochEnd extends EpochEnd {
  readonly task: number;
  /** Mean loss of the epoch. */
  readonly loss: number;
  readonly lr: number;
}

/** JSON part of {@link trainTask}'s state (the tensors are the trained variables and the Adam slots). */
export interface TaskTrainingState {
  readonly task: number;
  /** Epochs finished. */
  readonly epoch: number;
  readonly step: number;
  /** Mean loss of each finished epoch. */
  readonly losses: readonly number[];
  /** The batch-order generator after the finished epochs. */
  readonly rng: RngState;
  readonly optimizer: OptimizerState;
}

/** Where a training run reads images and queries. */
export interface TrainContext {
  readonly queries: QuerySource;
  /** Batch order generator for this task (seeded per task/role for paired comparisons). */
  readonly rng: Rng;
  /** Cache key prefix of the split (default `train/<task>`). */
  readonly key?: string;
  /** Shorthand for `callbacks.onStepEnd`. */
  readonly onStep?: (info: StepInfo) => void;
  /**
   * The training contract: totals at the start (`epochs`, `steps` of this task), every step, every epoch (with
   * the resumable state of the task), the end. A checkpoint callback restores a saved epoch in `onTrainBegin`.
   */
  readonly callbacks?: TrainCallbacks<TaskEpochEnd, StepInfo>;
  /**
   * Training-time augmentation of a batch (e.g. random crop + flip). Must not be combined with cached
   * queries or cached teacher logits (they assume fixed images, spec §8.1).
   */
  readonly augment?: (x: tf.Tensor4D, rng: Rng) => tf.Tensor4D;
}

/** Adam as the reference (PyTorch: β = (0.9, 0.999), ε = 1e-8), from core's fused optimizers. */
export function taskOptimizer(lr: number): FusedAdamOptimizer {
  return adam(lr, 0.9, 0.999, 1e-8);
}

/** Gathers rows of an image set (not differentiable; used for batching). */
export function gatherRows(images: LabeledImages, indices: Int32Array): { x: tf.Tensor4D; y: tf.Tensor1D } {
  return tf.tidy(() => {
    const idx = tf.tensor1d(indices, 'int32');
    return {
      x: tf.gather(images.x, idx) as tf.Tensor4D,
      y: tf.tensor1d(Int32Array.from(indices, (i) => images.y[i] as number), 'int32'),
    };
  });
}

/** Mini-batch index lists of one epoch (shuffled with `rng`). */
export function epochBatches(n: number, batchSize: number, rng: Rng, dropLast = true): Int32Array[] {
  if (n === 0) throw new ConfigError('The training split is empty.', { field: 'train' });
  const perm = rng.permutation(n);
  const out: Int32Array[] = [];
  const full = Math.floor(n / batchSize);
  const count = dropLast ? Math.max(full, 1) : Math.ceil(n / batchSize);
  for (let b = 0; b < count; b++) out.push(Int32Array.from(perm.slice(b * batchSize, Math.min(n, (b + 1) * batchSize))));
  return out;
}

/**
 * One optimisation step: gradients of `learner.loss` w.r.t. `vars`, optimizer update (the trainer uses
 * {@link taskOptimizer}). Leaves `tf.memory().numTensors` unchanged apart from lazily created optimizer slots.
 */
export function trainStep(
  learner: Learner,
  vars: tf.Variable[],
  optimizer: tf.Optimizer,
  batch: Batch,
  ctx: TaskContext,
): { loss: number; terms: Record<string, number> } {
  const kept: Record<string, tf.Tensor> = {};
  const lossValue = tf.tidy(() => {
    const { value, grads } = tf.variableGrads(() => {
      const res = learner.loss(batch, ctx);
      for (const [k, t] of Object.entries(res.terms)) kept[k] = tf.keep(t.clone());
      return res.total;
    }, vars);
    optimizer.applyGradients(vars.map((v) => ({ name: v.name, tensor: grads[v.name] as tf.Tensor })));
    return value;
  });
  const names = Object.keys(kept);
  const values = tf.tidy(() => tf.stack([lossValue, ...names.map((k) => tf.reshape(kept[k] as tf.Tensor, []))]).dataSync());
  lossValue.dispose();
  tf.dispose(Object.values(kept));
  const terms: Record<string, number> = {};
  names.forEach((k, i) => {
    terms[k] = values[i + 1] as number;
  });
  return { loss: values[0] as number, terms };
}

/** Batches of one epoch of `task` under `options` (shuffled with `rng`, capped by `maxStepsPerEpoch`). */
export function taskEpochBatches(task: ClassIncrementalTask, options: TaskTrainingOptions, rng: Rng): Int32Array[] {
  const batches = epochBatches(task.train.x.shape[0], options.batchSize, rng, options.dropLast ?? true);
  return options.maxStepsPerEpoch !== undefined ? batches.slice(0, options.maxStepsPerEpoch) : batches;
}

/** Optimisation steps of one task under `options` (what {@link trainTask} reports in `onTrainBegin`). */
export function taskSteps(trainImages: number, options: TaskTrainingOptions): number {
  if (trainImages === 0) throw new ConfigError('The training split is empty.', { field: 'train' });
  const full = Math.floor(trainImages / options.batchSize);
  const perEpoch = (options.dropLast ?? true) ? Math.max(full, 1) : Math.ceil(trainImages / options.batchSize);
  return options.epochs * Math.min(perEpoch, options.maxStepsPerEpoch ?? Infinity);
}

/** Stable names of a learner's trained variables: its own names when it has them, else `#<index>`. */
function variableNames(learner: Learner, vars: readonly tf.Variable[]): [string, tf.Variable][] {
  const named = (learner as Partial<{ namedVariables(): ReadonlyMap<string, tf.Variable> }>).namedVariables?.();
  const names = new Map([...(named ?? new Map<string, tf.Variable>())].map(([n, v]) => [v, n]));
  return vars.map((v, i) => [names.get(v) ?? `#${i}`, v]);
}

/**
 * Trains `learner` on one task: a fresh Adam (reset per task), per-epoch learning rate, shuffled batches,
 * masked objective from the learner. Returns the mean loss per epoch.
 *
 * Follows the {@link TrainCallbacks} contract; its {@link Resumable} state at an epoch boundary is the trained
 * variables, the Adam slots, the batch-order generator and the finished epochs' losses, so a task resumed from
 * an `onEpochEnd` state ends bit-identical to an uninterrupted one.
 */
export async function trainTask(learner: Learner, task: ClassIncrementalTask, options: TaskTrainingOptions, context: TrainContext): Promise<number[]> {
  const vars = learner.trainableVariables();
  if (vars.length === 0) throw new ConfigError('The learner has no trainable variables.', { field: 'learner' });
  if (context.augment && context.queries.cached) {
    throw new ConfigError('Cached queries assume un-augmented images; use QueryCache with { cache: false } when augmenting.', {
      field: 'augment',
    });
  }
  const optimizer = taskOptimizer(options.lr);
  const key = context.key ?? `train/${task.task}`;
  const cb = combineCallbacks<TaskEpochEnd, StepInfo>(context.onStep ? { onStepEnd: context.onStep } : undefined, context.callbacks);
  const named = variableNames(learner, vars);
  let losses: number[] = [];
  let step = 0;
  let atEpochBoundary = true;
  const parts = resumableParts({ variables: resumableVariables(() => new Map(named)), optimizer: resumableOptimizer(optimizer, () => named) });
  const training: Resumable<TaskTrainingState> = {
    async exportState() {
      if (!atEpochBoundary) {
        throw new ConfigError(`trainTask's state is exact only at epoch boundaries; save it in onEpochEnd, not mid-epoch.`, { field: 'checkpoint' });
      }
      const saved = await parts.exportState();
      const optimizerState = saved.state.optimizer as OptimizerState;
      return { tensors: saved.tensors, state: { task: task.task, epoch: losses.length, step, losses: [...losses], rng: context.rng.getState(), optimizer: optimizerState } };
    },
    async importState(saved) {
      const s = saved.state;
      if (s.task !== task.task || !(s.epoch >= 0 && s.epoch <= options.epochs) || s.losses.length !== s.epoch) {
        throw new ConfigError(`Cannot resume task ${task.task} from a state of task ${s.task}, epoch ${s.epoch} (of ${options.epochs}).`, { field: 'resume' });
      }
      await parts.importState({ tensors: saved.tensors, state: { variables: null, optimizer: s.optimizer } });
      context.rng.setState(s.rng);
      losses = [...s.losses];
      step = s.step;
    },
  };
  try {
    await cb.onTrainBegin?.({ epochs: options.epochs, steps: taskSteps(task.train.x.shape[0], options), training });
    for (let epoch = losses.length; epoch < options.epochs; epoch++) {
      const lr = scheduledLr(options.schedule ?? 'coda-cosine', options.lr, epoch, options.epochs);
      optimizer.setLearningRate(lr);
      const batches = taskEpochBatches(task, options, context.rng);
      atEpochBoundary = false;
      let sum = 0;
      for (const indices of batches) {
        const gathered = gatherRows(task.train, indices);
        const y = gathered.y;
        let x = gathered.x;
        if (context.augment) {
          x = context.augment(gathered.x, context.rng);
          if (x !== gathered.x) gathered.x.dispose();
        }
        const query = context.queries.queries(key, task.train.x, indices, x);
        let r: { loss: number; terms: Record<string, number> };
        try {
          r = trainStep(learner, vars, optimizer, { x, y, query, indices }, task);
        } finally {
          tf.dispose([x, y, query]);
        }
        assertFinite(r.loss, { step, term: 'total', what: `loss (task ${task.task}, epoch ${epoch})` });
        sum += r.loss;
        step += 1;
        await cb.onStepEnd?.({ task: task.task, epoch, step, lr, loss: r.loss, terms: r.terms });
      }
      const loss = sum / Math.max(1, batches.length);
      losses.push(loss);
      atEpochBoundary = true;
      await cb.onEpochEnd?.({ task: task.task, epoch, step, loss, lr, metrics: { loss, lr }, training });
    }
    await cb.onTrainEnd?.({ epochs: options.epochs, step });
  } finally {
    optimizer.dispose();
  }
  return losses;
}

/** Accuracy (0..1) of `learner` on `images`: argmax of its prediction over classes [0, hi). */
export function evaluateAccuracy(
  learner: Pick<Learner, 'predict'>,
  images: LabeledImages,
  hi: number,
  queries: QuerySource,
  key: string,
  batchSize = 128,
): number {
  const n = images.x.shape[0];
  if (n === 0) return 0;
  let correct = 0;
  for (let start = 0; start < n; start += batchSize) {
    const indices = Int32Array.from({ length: Math.min(batchSize, n - start) }, (_, i) => start + i);
    const { x, y } = gatherRows(images, indices);
    const q = queries.queries(key, images.x, indices, x);
    const pred = tf.tidy(() => tf.argMax(learner.predict(x, q, hi), 1));
    const p = pred.dataSync();
    tf.dispose([x, y, q, pred]);
    indices.forEach((row, i) => {
      if (p[i] === images.y[row]) correct += 1;
    });
  }
  return correct / n;
}

/** Evaluates on the test sets of tasks 0..t (classes [0, hi_t)); returns accuracy per task. */
export function evaluateSeenTasks(
  learner: Pick<Learner, 'predict'>,
  tasks: readonly ClassIncrementalTask[],
  t: number,
  queries: QuerySource,
  batchSize = 128,
): number[] {
  const hi = (tasks[t] as ClassIncrementalTask).hi;
  return tasks.slice(0, t + 1).map((task) => evaluateAccuracy(learner, task.test, hi, queries, `test/${task.task}`, batchSize));
}

/** Options of {@link runClassIncremental}. */
export interface ClassIncrementalOptions extends TaskTrainingOptions {
  readonly queries: QuerySource;
  /** Batch-order RNG of task t (default: a fork of one seeded stream). */
  readonly rngForTask: (task: number) => Rng;
  readonly evalBatchSize?: number;
  /** Shorthand for `callbacks.onStepEnd`. */
  readonly onStep?: (info: StepInfo) => void;
  readonly onTaskEnd?: (task: number, accuracies: number[]) => void;
  /**
   * The training contract over the stream: `onTrainBegin({epochs: tasks, steps})`, every step (global step
   * count), `onEpochEnd` after every task with its accuracies and the resumable state of the stream.
   */
  readonly callbacks?: TrainCallbacks<ClTaskEnd, StepInfo>;
  readonly augment?: (x: tf.Tensor4D, rng: Rng) => tf.Tensor4D;
}

/** What {@link runClassIncremental} reports after each task (its "epoch"). */
export interface ClTaskEnd extends EpochEnd {
  /** Accuracy (0..1) on the test set of every task seen so far. */
  readonly accuracies: readonly number[];
}

/** Result of a class-incremental run (accuracies 0..1). */
export interface ClassIncrementalResult {
  readonly accuracy: number[][];
  readonly summary: ClSummary;
  readonly lossPerEpoch: number[][];
}

/** JSON part of {@link runClassIncremental}'s state (the tensors are the learner's named variables). */
export interface ClassIncrementalState {
  /** Tasks finished. */
  readonly tasks: number;
  readonly step: number;
  readonly accuracy: readonly (readonly number[])[];
  readonly lossPerEpoch: readonly (readonly number[])[];
}

/**
 * The class-incremental loop (spec §2): for each task in order, `beforeTask`, train with a fresh
 * optimiser, `afterTask`, then evaluate on all seen tasks (no task id, argmax over seen classes).
 *
 * Resumable per task through the {@link TrainCallbacks} contract when the learner names its variables
 * (`namedVariables()`): the state after task t is those variables plus the accuracy rows; importing it replays
 * `beforeTask` of the finished tasks (task counters, CODA's component rows) and continues with task t + 1.
 */
export async function runClassIncremental(
  learner: Learner,
  tasks: readonly ClassIncrementalTask[],
  options: ClassIncrementalOptions,
): Promise<ClassIncrementalResult> {
  const accuracy: number[][] = [];
  const lossPerEpoch: number[][] = [];
  let step = 0;
  const cb = combineCallbacks<ClTaskEnd, StepInfo>(options.onStep ? { onStepEnd: options.onStep } : undefined, options.callbacks);
  const namedVariables = (): ReadonlyMap<string, tf.Variable> => {
    const named = (learner as Partial<{ namedVariables(): ReadonlyMap<string, tf.Variable> }>).namedVariables?.();
    if (!named) throw new ConfigError('Resuming a class-incremental run needs a learner with namedVariables().', { field: 'learner' });
    return named;
  };
  const variables = resumableVariables(namedVariables);
  const training: Resumable<ClassIncrementalState> = {
    async exportState() {
      const saved = await variables.exportState();
      return { tensors: saved.tensors, state: { tasks: accuracy.length, step, accuracy: accuracy.map((r) => [...r]), lossPerEpoch: lossPerEpoch.map((r) => [...r]) } };
    },
    async importState(saved) {
      const s = saved.state;
      if (!(s.tasks >= 0 && s.tasks <= tasks.length) || s.accuracy.length !== s.tasks || s.lossPerEpoch.length !== s.tasks) {
        throw new ConfigError(`Cannot resume a ${tasks.length}-task stream after task ${s.tasks} (with ${s.accuracy.length} accuracy rows).`, { field: 'resume' });
      }
      for (let t = 0; t < s.tasks; t++) learner.beforeTask?.(tasks[t] as ClassIncrementalTask);
      await variables.importState({ tensors: saved.tensors, state: null });
      accuracy.splice(0, accuracy.length, ...s.accuracy.map((r) => [...r]));
      lossPerEpoch.splice(0, lossPerEpoch.length, ...s.lossPerEpoch.map((r) => [...r]));
      step = s.step;
    },
  };
  const steps = tasks.reduce((n, task) => n + taskSteps(task.train.x.shape[0], options), 0);
  await cb.onTrainBegin?.({ epochs: tasks.length, steps, training });
  for (let t = accuracy.length; t < tasks.length; t++) {
    const task = tasks[t] as ClassIncrementalTask;
    learner.beforeTask?.(task);
    const offset = step;
    lossPerEpoch.push(
      await trainTask(learner, task, options, {
        queries: options.queries,
        rng: options.rngForTask(t),
        callbacks: { onStepEnd: (info) => cb.onStepEnd?.({ ...info, step: offset + info.step }) },
        ...(options.augment ? { augment: options.augment } : {}),
      }),
    );
    step = offset + taskSteps(task.train.x.shape[0], options);
    learner.afterTask?.(task);
    const row = evaluateSeenTasks(learner, tasks, t, options.queries, options.evalBatchSize);
    accuracy.push(row);
    options.onTaskEnd?.(t, row);
    await cb.onEpochEnd?.({ epoch: t, step, accuracies: row, metrics: { accuracy: row.reduce((a, b) => a + b, 0) / row.length }, training });
  }
  await cb.onTrainEnd?.({ epochs: tasks.length, step });
  return { accuracy, summary: summarize(accuracy), lossPerEpoch };
}
