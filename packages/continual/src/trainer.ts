import * as tf from '@tensorflow/tfjs';
import { ConfigError, assertFinite, type Rng, type TaskContext } from '@promptkd/core';
import { Adam } from './adam.js';
import { scheduledLr, type LrScheduleName } from './coda-cosine-schedule.js';
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

/** Progress of one optimisation step. */
export interface StepInfo {
  readonly task: number;
  readonly epoch: number;
  readonly step: number;
  readonly lr: number;
  readonly loss: number;
  readonly terms: Readonly<Record<string, number>>;
}

/** Where a training run reads images and queries. */
export interface TrainContext {
  readonly queries: QuerySource;
  /** Batch order generator for this task (seeded per task/role for paired comparisons). */
  readonly rng: Rng;
  /** Cache key prefix of the split (default `train/<task>`). */
  readonly key?: string;
  readonly onStep?: (info: StepInfo) => void;
  /**
   * Training-time augmentation of a batch (e.g. random crop + flip). Must not be combined with cached
   * queries or cached teacher logits (they assume fixed images, spec §8.1).
   */
  readonly augment?: (x: tf.Tensor4D, rng: Rng) => tf.Tensor4D;
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
 * One optimisation step: gradients of `learner.loss` w.r.t. `vars`, Adam update. Leaves
 * `tf.memory().numTensors` unchanged apart from lazily created Adam slots.
 */
export function trainStep(
  learner: Learner,
  vars: tf.Variable[],
  optimizer: Adam,
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
    optimizer.apply(
      vars,
      vars.map((v) => grads[v.name]),
    );
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

/**
 * Trains `learner` on one task: a fresh Adam (reset per task), per-epoch learning rate, shuffled
 * batches, masked objective from the learner. Returns the mean loss per epoch.
 */
export function trainTask(learner: Learner, task: ClassIncrementalTask, options: TaskTrainingOptions, context: TrainContext): number[] {
  const vars = learner.trainableVariables();
  if (vars.length === 0) throw new ConfigError('The learner has no trainable variables.', { field: 'learner' });
  if (context.augment && context.queries.cached) {
    throw new ConfigError('Cached queries assume un-augmented images; use QueryCache with { cache: false } when augmenting.', {
      field: 'augment',
    });
  }
  const optimizer = new Adam({ lr: options.lr });
  const key = context.key ?? `train/${task.task}`;
  const losses: number[] = [];
  let step = 0;
  try {
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      optimizer.lr = scheduledLr(options.schedule ?? 'coda-cosine', options.lr, epoch, options.epochs);
      let batches = epochBatches(task.train.x.shape[0], options.batchSize, context.rng, options.dropLast ?? true);
      if (options.maxStepsPerEpoch !== undefined) batches = batches.slice(0, options.maxStepsPerEpoch);
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
        try {
          const r = trainStep(learner, vars, optimizer, { x, y, query, indices }, task);
          assertFinite(r.loss, { step, term: 'total', what: `loss (task ${task.task}, epoch ${epoch})` });
          sum += r.loss;
          context.onStep?.({ task: task.task, epoch, step, lr: optimizer.lr, loss: r.loss, terms: r.terms });
        } finally {
          tf.dispose([x, y, query]);
        }
        step += 1;
      }
      losses.push(sum / Math.max(1, batches.length));
    }
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
  readonly onStep?: (info: StepInfo) => void;
  readonly onTaskEnd?: (task: number, accuracies: number[]) => void;
  readonly augment?: (x: tf.Tensor4D, rng: Rng) => tf.Tensor4D;
}

/** Result of a class-incremental run (accuracies 0..1). */
export interface ClassIncrementalResult {
  readonly accuracy: number[][];
  readonly summary: ClSummary;
  readonly lossPerEpoch: number[][];
}

/**
 * The class-incremental loop (spec §2): for each task in order, `beforeTask`, train with a fresh
 * optimiser, `afterTask`, then evaluate on all seen tasks (no task id, argmax over seen classes).
 */
export function runClassIncremental(
  learner: Learner,
  tasks: readonly ClassIncrementalTask[],
  options: ClassIncrementalOptions,
): ClassIncrementalResult {
  const accuracy: number[][] = [];
  const lossPerEpoch: number[][] = [];
  tasks.forEach((task, t) => {
    learner.beforeTask?.(task);
    lossPerEpoch.push(
      trainTask(learner, task, options, {
        queries: options.queries,
        rng: options.rngForTask(t),
        ...(options.onStep ? { onStep: options.onStep } : {}),
        ...(options.augment ? { augment: options.augment } : {}),
      }),
    );
    learner.afterTask?.(task);
    const row = evaluateSeenTasks(learner, tasks, t, options.queries, options.evalBatchSize);
    accuracy.push(row);
    options.onTaskEnd?.(t, row);
  });
  return { accuracy, summary: summarize(accuracy), lossPerEpoch };
}
