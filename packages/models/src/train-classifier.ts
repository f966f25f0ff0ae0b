import * as tf from '@tensorflow/tfjs';
import {
  ConfigError,
  adam,
  assertFinite,
  combineCallbacks,
  cosineAnnealingLr,
  disposeOptimizer,
  momentum as momentumOptimizer,
  sgd,
  type ClassifierModel,
  type EpochEnd,
  type Resumable,
  type TrainCallbacks,
  type TrainingState,
} from '@promptkd/core';

/** One labelled batch: NHWC images in [0,1] and integer class labels. */
export interface Batch {
  readonly x: tf.Tensor4D;
  readonly y: tf.Tensor1D;
}

/**
 * Where batches come from: a (re-iterable) iterable or async iterable, or a function returning a fresh one
 * per epoch (use this for one-shot generators). When resuming mid-epoch, {@link trainClassifier} skips the
 * epoch's first batches itself, so the source needs no position argument, only determinism per epoch.
 */
export type BatchSource =
  | Iterable<Batch>
  | AsyncIterable<Batch>
  | ((epoch: number) => Iterable<Batch> | AsyncIterable<Batch>);

/** Progress report after every step (and `epochEnd` after each epoch). */
export interface TrainProgress {
  readonly epoch: number;
  /** Global step count (1-based). */
  readonly step: number;
  readonly loss: number;
  readonly lr: number;
  /** Present on the last call of an epoch: that epoch's mean loss and training accuracy. */
  readonly epochEnd?: { readonly loss: number; readonly accuracy: number; readonly examples: number };
}

/** Options of {@link trainClassifier}. */
export interface TrainClassifierOptions {
  /** `sgd` (PyTorch SGD with momentum) or `adam` (PyTorch Adam, coupled L2). Default `sgd`. */
  readonly optimizer?: 'sgd' | 'adam';
  /** Base learning rate η₀. */
  readonly lr: number;
  /** SGD momentum μ. Default 0.9. */
  readonly momentum?: number;
  /** Adam (β₁, β₂). Default (0.9, 0.999). */
  readonly betas?: readonly [number, number];
  /** L2 weight decay λ added to the gradient (PyTorch `weight_decay`). Default 0. */
  readonly weightDecay?: number;
  readonly epochs: number;
  /** Cosine annealing per epoch: η_e = η₀·(1 + cos(π·e/E))/2 (PyTorch `CosineAnnealingLR`, T_max = E). Default false. */
  readonly cosine?: boolean;
  /** Re-seeds the model's in-forward randomness (dropout) before training. */
  readonly seed?: number;
  readonly onProgress?: (p: TrainProgress) => void;
  /** Dispose each batch after use. Default: true unless `data` is an array (re-used every epoch). */
  readonly disposeBatches?: boolean;
  /** Variables to train. Default `model.trainableVariables()`. */
  readonly variables?: tf.Variable[];
  /**
   * Hands a {@link TrainClassifierState} to `save` at the end of every epoch and, mid-epoch, every `everySteps`
   * global steps and/or once `everySeconds` have passed since the last save. The model's own variables (weights
   * and BN running stats) are not in the state: save them in `save` (e.g. `saveModelWeights`, or the tensors of
   * `model.namedVariables()` in a checkpoint), and load them before resuming.
   */
  readonly checkpoint?: TrainCheckpointOptions;
  /**
   * The training contract (`@promptkd/core`): totals, every step, every epoch (mean loss, accuracy, lr) and the
   * end. The {@link Resumable} handed out is exact also mid-epoch: its tensors are the model's variables
   * (`model/<name>`) and the optimizer slots (`slot/<key>`), its JSON the {@link TrainClassifierState} without
   * slots. A checkpoint callback restores one in `onTrainBegin` (like `resume`).
   */
  readonly callbacks?: TrainCallbacks<ClassifierEpochEnd>;
  /** Batches per epoch, for the `steps` total of `onTrainBegin` (default: the array's length, else unknown = NaN). */
  readonly stepsPerEpoch?: number;
  /**
   * Continue from a state given to `checkpoint.save`, with the model's variables restored to the values they had
   * then. Epoch `state.epoch` restarts its batch source and skips (disposing when `disposeBatches`) its first
   * `state.batchInEpoch` batches, so the source must yield the same batches for the same epoch (a seeded loader).
   * The result (weights and summaries) is then bit-identical to an uninterrupted run with the same seed, provided
   * the model has no in-forward randomness (dropout) or exposes `rngState()` / `setRngState(state)` (as `VggBn`
   * does); a model with dropout but without them would resume with a re-seeded dropout stream instead.
   */
  readonly resume?: TrainClassifierState;
}

/** When and where {@link trainClassifier} hands out its resumable state. */
export interface TrainCheckpointOptions {
  /** Also save mid-epoch every this many global steps. */
  readonly everySteps?: number;
  /** Also save mid-epoch once this many seconds have passed since the last save (or the start). */
  readonly everySeconds?: number;
  /** Receives the state; awaited before training continues. The state's arrays are copies owned by the callee. */
  readonly save: (state: TrainClassifierState) => Promise<void> | void;
}

/**
 * Everything {@link trainClassifier} needs besides the model's variables to continue a run exactly. JSON-safe
 * except `slots` (store those as tensors). Pass it back as `options.resume`.
 */
export interface TrainClassifierState {
  readonly version: 1;
  readonly optimizer: 'sgd' | 'adam';
  /** `options.epochs` of the run (the cosine schedule depends on it). */
  readonly epochs: number;
  /** Epoch in progress (0-based); equals `epochs` once the run is complete. */
  readonly epoch: number;
  /** Batches of `epoch` already trained. */
  readonly batchInEpoch: number;
  /** Global steps done. */
  readonly step: number;
  /** Running sums of the epoch in progress: Σ loss·n, correct predictions, examples. */
  readonly lossSum: number;
  readonly correct: number;
  readonly seen: number;
  /** Summaries of the completed epochs. */
  readonly summaries: readonly EpochSummary[];
  /**
   * Optimizer slots: `m/<name>` (SGD momentum buffer or Adam first moment) and `v/<name>` (Adam second moment),
   * where `<name>` is the trained variable's key in `model.namedVariables()` (PyTorch name), or `#<index>` in the
   * trained-variable list for variables the model does not name. Flat float32 values in the variable's layout.
   */
  readonly slots: Readonly<Record<string, Float32Array>>;
  /** The model's in-forward RNG state, for models exposing `rngState()` / `setRngState()`. */
  readonly modelRng?: unknown;
}

/** What {@link trainClassifier} reports after every epoch. */
export interface ClassifierEpochEnd extends EpochEnd {
  readonly summary: EpochSummary;
}

/** Per-epoch summary returned by {@link trainClassifier}. */
export interface EpochSummary {
  readonly epoch: number;
  readonly loss: number;
  readonly accuracy: number;
  readonly lr: number;
}

/** How often a training loop hands the event loop to timers, in ms. */
const YIELD_EVERY_MS = 200;

/** Mean cross-entropy of logits [N, K] against integer labels [N] (log-softmax, numerically stable). */
export function crossEntropy(logits: tf.Tensor2D, labels: tf.Tensor1D): tf.Scalar {
  return tf.tidy(() => {
    const oneHot = tf.oneHot(tf.cast(labels, 'int32'), logits.shape[1]);
    return tf.neg(tf.mean(tf.sum(tf.mul(oneHot, tf.logSoftmax(logits)), 1))) as tf.Scalar;
  });
}

async function* iterate(data: BatchSource, epoch: number): AsyncGenerator<Batch> {
  const src = typeof data === 'function' ? data(epoch) : data;
  if (Symbol.asyncIterator in src) {
    for await (const b of src as AsyncIterable<Batch>) yield b;
  } else {
    for (const b of src as Iterable<Batch>) yield b;
  }
}

/** Optional model hooks that let a resumed run continue the model's dropout stream. */
interface RngCarrier {
  reseed?(seed: number): void;
  rngState?(): unknown;
  setRngState?(state: unknown): void;
}

/** Stable slot keys of the trained variables (see {@link TrainClassifierState.slots}). */
function slotKeys(model: ClassifierModel, vars: readonly tf.Variable[]): string[] {
  const names = new Map([...model.namedVariables()].map(([n, v]) => [v, n]));
  return vars.map((v, i) => names.get(v) ?? `#${i}`);
}

/** Checks a resume state against the run; throws a ConfigError naming what does not fit. */
function checkResumeState(state: TrainClassifierState, kind: 'sgd' | 'adam', epochs: number, keys: readonly string[], vars: readonly tf.Variable[]): void {
  const bad = (why: string): never => {
    throw new ConfigError(`Cannot resume trainClassifier: ${why}.`, { field: 'resume' });
  };
  if (state.version !== 1) bad(`state version ${String(state.version)} is not 1`);
  if (state.optimizer !== kind) bad(`the state is from optimizer '${state.optimizer}', this run uses '${kind}'`);
  if (state.epochs !== epochs) bad(`the state is from a ${state.epochs}-epoch run, this one has ${epochs}`);
  const ints = [state.epoch, state.batchInEpoch, state.step, state.seen];
  if (!ints.every((n) => Number.isInteger(n) && n >= 0) || state.epoch > epochs || state.summaries.length !== state.epoch) bad('its counters are inconsistent');
  const expected = keys.length * (kind === 'adam' ? 2 : 1);
  if (Object.keys(state.slots).length !== expected) bad(`it has ${Object.keys(state.slots).length} optimizer slots, expected ${expected}`);
  vars.forEach((v, i) => {
    for (const prefix of kind === 'adam' ? ['m', 'v'] : ['m']) {
      const data = state.slots[`${prefix}/${keys[i]}`];
      if (!data || data.length !== v.size) bad(`slot '${prefix}/${keys[i]}' is missing or has the wrong size`);
    }
  });
}

/** The optimizers of {@link trainClassifier}, from core: PyTorch SGD (momentum μ, dampening 0), or Adam (ε = 1e-8). */
type Kind = 'sgd' | 'sgdPlain' | 'adam';

function createOptimizer(kind: Kind, lr: number, momentum: number, betas: readonly [number, number]): tf.Optimizer & { setLearningRate(lr: number): void } {
  if (kind === 'adam') return adam(lr, betas[0], betas[1], 1e-8);
  return kind === 'sgd' ? momentumOptimizer(lr, momentum) : sgd(lr);
}

/**
 * Slot kinds of the optimizer in its own order, and their key prefix in {@link TrainClassifierState.slots}. Plain
 * SGD (μ = 0) has no slots; its state keeps zero `m/` entries so the format does not depend on μ.
 */
const SLOT_KINDS = { adam: [['m', 'm'], ['v', 'v']], sgd: [['momentum', 'm']], sgdPlain: [] } as const;

/** Sets the optimizer's step count and slots from `slots` (zeros when absent), in the trained variables' order. */
async function setSlots(optimizer: tf.Optimizer, kind: Kind, step: number, vars: readonly tf.Variable[], keys: readonly string[], slots?: Readonly<Record<string, Float32Array>>): Promise<void> {
  const old = await optimizer.getWeights();
  const iter = tf.scalar(step, 'int32');
  const values = (SLOT_KINDS[kind] as readonly (readonly [string, string])[]).flatMap(([suffix, prefix]) =>
    vars.map((v, i) => {
      const data = slots?.[`${prefix}/${keys[i]}`];
      return { name: `${v.name}/${suffix}`, tensor: data ? tf.tensor(data, v.shape, 'float32') : tf.zerosLike(v) };
    }),
  );
  try {
    await optimizer.setWeights([{ name: 'iter', tensor: iter }, ...values]);
  } finally {
    tf.dispose([iter, ...values.map((w) => w.tensor), ...old.map((w) => w.tensor)]);
  }
}

/** The optimizer's slots as {@link TrainClassifierState.slots} (copies). */
async function readSlots(optimizer: tf.Optimizer, kind: Kind, keys: readonly string[], vars: readonly tf.Variable[]): Promise<Record<string, Float32Array>> {
  const [iter, ...weights] = await optimizer.getWeights();
  iter?.tensor.dispose();
  const out: Record<string, Float32Array> = {};
  if (kind === 'sgdPlain') vars.forEach((v, i) => (out[`m/${keys[i]}`] = new Float32Array(v.size)));
  const perKind = keys.length;
  for (const [i, w] of weights.entries()) {
    const prefix = (SLOT_KINDS[kind] as readonly (readonly [string, string])[])[Math.floor(i / perKind)]?.[1] ?? 'm';
    out[`${prefix}/${keys[i % perKind]}`] = ((await w.tensor.data()) as Float32Array).slice();
  }
  return out;
}

/**
 * Trains a classifier with cross-entropy in BN train mode (hosts and sources of KiOP, backbones of the
 * mini-CDL). The optimiser follows PyTorch exactly: SGD `v ← μv + g; w ← w − ηv`, Adam with bias correction;
 * weight decay is added to the gradient. Each step runs in one `tf.tidy` and leaves no tensors behind.
 * Resumable: `options.checkpoint` hands out a {@link TrainClassifierState} (epoch ends, every N steps or seconds),
 * `options.resume` continues from one exactly (see {@link TrainClassifierOptions.resume}).
 *
 * @returns one summary per epoch (including those completed before a resume).
 * @throws ConfigError on bad options or a resume state that does not fit the run; NonFiniteError on a NaN loss.
 */
export async function trainClassifier(model: ClassifierModel, data: BatchSource, options: TrainClassifierOptions): Promise<EpochSummary[]> {
  const kind = options.optimizer ?? 'sgd';
  if (kind !== 'sgd' && kind !== 'adam') throw new ConfigError(`Unknown optimizer '${String(kind)}' (use 'sgd' or 'adam').`, { field: 'optimizer' });
  if (!(options.lr > 0) || !(options.epochs >= 1)) throw new ConfigError('trainClassifier needs lr > 0 and epochs >= 1.', { field: 'lr' });
  const ck = options.checkpoint;
  if (ck && [ck.everySteps, ck.everySeconds].some((n) => n !== undefined && !(n > 0))) {
    throw new ConfigError('checkpoint.everySteps and checkpoint.everySeconds must be positive.', { field: 'checkpoint' });
  }
  const vars = options.variables ?? model.trainableVariables();
  if (vars.length === 0) throw new ConfigError(`Model '${model.name}' has no trainable variables (is it frozen?).`, { field: 'variables' });
  const rngModel = model as RngCarrier;
  if (options.seed !== undefined) rngModel.reseed?.(options.seed);
  const wd = options.weightDecay ?? 0;
  const dispose = options.disposeBatches ?? !Array.isArray(data);
  const keys = slotKeys(model, vars);
  const momentum = options.momentum ?? 0.9;
  const optKind: Kind = kind === 'sgd' && momentum === 0 ? 'sgdPlain' : kind;
  const optimizer = createOptimizer(optKind, options.lr, momentum, options.betas ?? [0.9, 0.999]);
  const cb = combineCallbacks<ClassifierEpochEnd>(options.callbacks);
  let r = options.resume;
  let step = 0;
  let summaries: EpochSummary[] = [];
  // Position of the run: epoch in progress and its running sums (what a mid-epoch state holds).
  const at = { epoch: 0, batchInEpoch: 0, lossSum: 0, correct: 0, seen: 0 };
  const stateNow = async (): Promise<TrainClassifierState> => {
    const modelRng = rngModel.rngState?.();
    return {
      version: 1, optimizer: kind, epochs: options.epochs, ...at, step,
      summaries: [...summaries], slots: await readSlots(optimizer, optKind, keys, vars), ...(modelRng !== undefined ? { modelRng } : {}),
    };
  };
  const training: Resumable<Omit<TrainClassifierState, 'slots'>> = {
    async exportState() {
      const { slots, ...json } = await stateNow();
      const tensors: Record<string, tf.Tensor> = {};
      for (const [n, v] of model.namedVariables()) tensors[`model/${n}`] = v.clone();
      for (const [k, a] of Object.entries(slots)) tensors[`slot/${k}`] = tf.tensor1d(a, 'float32');
      return { tensors, state: json };
    },
    async importState(saved: TrainingState<Omit<TrainClassifierState, 'slots'>>) {
      const slots: Record<string, Float32Array> = {};
      for (const [n, t] of Object.entries(saved.tensors)) if (n.startsWith('slot/')) slots[n.slice(5)] = (await t.data()) as Float32Array;
      const state: TrainClassifierState = { ...saved.state, slots };
      checkResumeState(state, kind, options.epochs, keys, vars);
      for (const [n, v] of model.namedVariables()) {
        const t = saved.tensors[`model/${n}`];
        if (!t || t.shape.join(',') !== v.shape.join(',')) throw new ConfigError(`Cannot resume trainClassifier: the state lacks or mis-shapes weight '${n}'.`, { field: 'resume' });
        v.assign(t);
      }
      r = state;
    },
  };
  let lastSave = performance.now();
  const save = async (): Promise<void> => {
    if (!ck) return;
    await ck.save(await stateNow());
    lastSave = performance.now();
  };
  try {
    const perEpoch = options.stepsPerEpoch ?? (Array.isArray(data) ? data.length : Number.NaN);
    await cb.onTrainBegin?.({ epochs: options.epochs, steps: perEpoch * options.epochs, training });
    if (r) checkResumeState(r, kind, options.epochs, keys, vars);
    step = r?.step ?? 0;
    summaries = r ? [...r.summaries] : [];
    await setSlots(optimizer, optKind, step, vars, keys, r?.slots);
    if (r?.modelRng !== undefined) rngModel.setRngState?.(r.modelRng);
    lastSave = performance.now();
    let lastYield = lastSave;
    for (let epoch = r?.epoch ?? 0; epoch < options.epochs; epoch++) {
      const lr = options.cosine ? cosineAnnealingLr(options.lr, epoch, options.epochs) : options.lr;
      optimizer.setLearningRate(lr);
      const resumed = r !== undefined && epoch === r.epoch;
      let skip = resumed ? r!.batchInEpoch : 0;
      Object.assign(at, { epoch, batchInEpoch: skip, lossSum: resumed ? r!.lossSum : 0, correct: resumed ? r!.correct : 0, seen: resumed ? r!.seen : 0 });
      for await (const batch of iterate(data, epoch)) {
        if (skip > 0) {
          // Resuming mid-epoch: these batches were trained before the checkpoint.
          skip--;
          if (dispose) tf.dispose([batch.x, batch.y]);
          continue;
        }
        step++;
        at.batchInEpoch++;
        let correctT: tf.Tensor | undefined;
        const lossT = tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => {
            const logits = model.apply(batch.x, { training: true }).logits;
            correctT = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(batch.y, 'int32')), 'float32')));
            return crossEntropy(logits, batch.y);
          }, vars);
          optimizer.applyGradients(
            vars.map((v) => {
              const g = grads[v.name] as tf.Tensor;
              return { name: v.name, tensor: wd > 0 ? tf.add(g, tf.mul(v, wd)) : g };
            }),
          );
          return value;
        });
        const loss = (await lossT.data())[0] as number;
        const hits = correctT ? ((await correctT.data())[0] as number) : 0;
        tf.dispose([lossT, ...(correctT ? [correctT] : [])]);
        const n = batch.x.shape[0];
        if (dispose) tf.dispose([batch.x, batch.y]);
        assertFinite(loss, { step, term: 'cross-entropy', what: 'training loss' });
        at.lossSum += loss * n;
        at.correct += hits;
        at.seen += n;
        options.onProgress?.({ epoch, step, loss, lr });
        await cb.onStepEnd?.({ epoch, step, loss, lr });
        const due =
          (ck?.everySteps !== undefined && step % ck.everySteps === 0) ||
          (ck?.everySeconds !== undefined && performance.now() - lastSave >= ck.everySeconds * 1000);
        if (due) await save();
        // Let timers run (a model-cache lock's refresh, progress): awaiting tensor data alone never leaves the
        // microtask queue, so a long epoch on a loaded machine would starve them.
        if (performance.now() - lastYield >= YIELD_EVERY_MS) {
          await new Promise((r) => setTimeout(r, 0));
          lastYield = performance.now();
        }
      }
      if (skip > 0) {
        throw new ConfigError(`Cannot resume trainClassifier: epoch ${epoch} has fewer batches than the ${r?.batchInEpoch} the state says were done (did the data change?).`, { field: 'resume' });
      }
      const { seen, lossSum, correct } = at;
      const summary = { epoch, loss: seen ? lossSum / seen : NaN, accuracy: seen ? correct / seen : NaN, lr };
      summaries.push(summary);
      options.onProgress?.({ epoch, step, loss: summary.loss, lr, epochEnd: { loss: summary.loss, accuracy: summary.accuracy, examples: seen } });
      Object.assign(at, { epoch: epoch + 1, batchInEpoch: 0, lossSum: 0, correct: 0, seen: 0 });
      await save();
      await cb.onEpochEnd?.({ epoch, step, summary, metrics: { loss: summary.loss, accuracy: summary.accuracy, lr }, training });
    }
    await cb.onTrainEnd?.({ epochs: options.epochs, step });
  } finally {
    disposeOptimizer(optimizer);
  }
  return summaries;
}

/** Accuracy and mean cross-entropy of a classifier (BN eval mode) over a batch source. */
export async function evaluate(
  model: ClassifierModel,
  data: Iterable<Batch> | AsyncIterable<Batch>,
  options: { disposeBatches?: boolean } = {},
): Promise<{ accuracy: number; loss: number; examples: number }> {
  const dispose = options.disposeBatches ?? !Array.isArray(data);
  let lossSum = 0;
  let correct = 0;
  let seen = 0;
  for await (const batch of iterate(data, 0)) {
    const [l, c] = tf.tidy(() => {
      const logits = model.apply(batch.x, { training: false }).logits;
      const hits = tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(batch.y, 'int32')), 'float32'));
      return [tf.mul(crossEntropy(logits, batch.y), batch.x.shape[0]), hits];
    });
    lossSum += (await l.data())[0] as number;
    correct += (await c.data())[0] as number;
    tf.dispose([l, c]);
    seen += batch.x.shape[0];
    if (dispose) tf.dispose([batch.x, batch.y]);
  }
  return { accuracy: seen ? correct / seen : NaN, loss: seen ? lossSum / seen : NaN, examples: seen };
}
