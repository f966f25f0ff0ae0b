import * as tf from '@tensorflow/tfjs';
import { ConfigError, assertFinite, type ClassifierModel } from '@promptkd/core';

/** One labelled batch: NHWC images in [0,1] and integer class labels. */
export interface Batch {
  readonly x: tf.Tensor4D;
  readonly y: tf.Tensor1D;
}

/**
 * Where batches come from: a (re-iterable) iterable or async iterable, or a function returning a fresh one
 * per epoch (use this for one-shot generators).
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
}

/** Per-epoch summary returned by {@link trainClassifier}. */
export interface EpochSummary {
  readonly epoch: number;
  readonly loss: number;
  readonly accuracy: number;
  readonly lr: number;
}

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

function zeroSlot(v: tf.Variable): tf.Variable {
  const z = tf.zerosLike(v);
  const slot = tf.variable(z, false);
  z.dispose();
  return slot;
}

interface Slots {
  m: tf.Variable;
  v?: tf.Variable;
}

/**
 * Trains a classifier with cross-entropy in BN train mode (hosts and sources of KiOP, backbones of the
 * mini-CDL). The optimiser follows PyTorch exactly: SGD `v ← μv + g; w ← w − ηv`, Adam with bias correction;
 * weight decay is added to the gradient. Each step runs in one `tf.tidy` and leaves no tensors behind.
 *
 * @returns one summary per epoch.
 */
export async function trainClassifier(model: ClassifierModel, data: BatchSource, options: TrainClassifierOptions): Promise<EpochSummary[]> {
  const kind = options.optimizer ?? 'sgd';
  if (kind !== 'sgd' && kind !== 'adam') throw new ConfigError(`Unknown optimizer '${String(kind)}' (use 'sgd' or 'adam').`, { field: 'optimizer' });
  if (!(options.lr > 0) || !(options.epochs >= 1)) throw new ConfigError('trainClassifier needs lr > 0 and epochs >= 1.', { field: 'lr' });
  const vars = options.variables ?? model.trainableVariables();
  if (vars.length === 0) throw new ConfigError(`Model '${model.name}' has no trainable variables (is it frozen?).`, { field: 'variables' });
  if (options.seed !== undefined) (model as { reseed?: (s: number) => void }).reseed?.(options.seed);
  const momentum = options.momentum ?? 0.9;
  const [b1, b2] = options.betas ?? [0.9, 0.999];
  const wd = options.weightDecay ?? 0;
  const dispose = options.disposeBatches ?? !Array.isArray(data);
  const slots = new Map<tf.Variable, Slots>();
  for (const v of vars) {
    slots.set(v, { m: zeroSlot(v), v: kind === 'adam' ? zeroSlot(v) : undefined });
  }
  let step = 0;
  const summaries: EpochSummary[] = [];
  try {
    for (let epoch = 0; epoch < options.epochs; epoch++) {
      const lr = options.cosine ? (options.lr * (1 + Math.cos((Math.PI * epoch) / options.epochs))) / 2 : options.lr;
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      for await (const batch of iterate(data, epoch)) {
        step++;
        const t = step;
        let correctT: tf.Tensor | undefined;
        const lossT = tf.tidy(() => {
          const { value, grads } = tf.variableGrads(() => {
            const logits = model.apply(batch.x, { training: true }).logits;
            correctT = tf.keep(tf.sum(tf.cast(tf.equal(tf.argMax(logits, 1), tf.cast(batch.y, 'int32')), 'float32')));
            return crossEntropy(logits, batch.y);
          }, vars);
          for (const v of vars) {
            let g = grads[v.name] as tf.Tensor;
            if (wd > 0) g = tf.add(g, tf.mul(v, wd));
            const s = slots.get(v) as Slots;
            if (kind === 'sgd') {
              const buf = momentum > 0 ? tf.add(tf.mul(s.m, momentum), g) : g;
              if (momentum > 0) s.m.assign(buf);
              v.assign(tf.sub(v, tf.mul(buf, lr)));
            } else {
              const m = tf.add(tf.mul(s.m, b1), tf.mul(g, 1 - b1));
              const u = tf.add(tf.mul(s.v as tf.Variable, b2), tf.mul(tf.square(g), 1 - b2));
              s.m.assign(m);
              (s.v as tf.Variable).assign(u);
              const mHat = tf.div(m, 1 - b1 ** t);
              const vHat = tf.div(u, 1 - b2 ** t);
              v.assign(tf.sub(v, tf.mul(tf.div(mHat, tf.add(tf.sqrt(vHat), 1e-8)), lr)));
            }
          }
          return value;
        });
        const loss = (await lossT.data())[0] as number;
        const hits = correctT ? ((await correctT.data())[0] as number) : 0;
        tf.dispose([lossT, ...(correctT ? [correctT] : [])]);
        const n = batch.x.shape[0];
        if (dispose) tf.dispose([batch.x, batch.y]);
        assertFinite(loss, { step, term: 'cross-entropy', what: 'training loss' });
        lossSum += loss * n;
        correct += hits;
        seen += n;
        options.onProgress?.({ epoch, step, loss, lr });
      }
      const summary = { epoch, loss: seen ? lossSum / seen : NaN, accuracy: seen ? correct / seen : NaN, lr };
      summaries.push(summary);
      options.onProgress?.({ epoch, step, loss: summary.loss, lr, epochEnd: { loss: summary.loss, accuracy: summary.accuracy, examples: seen } });
    }
  } finally {
    for (const s of slots.values()) tf.dispose([s.m, ...(s.v ? [s.v] : [])]);
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
