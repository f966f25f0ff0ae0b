import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import {
  createModel,
  exportStateDict,
  loadStateDict,
  trainClassifier,
  type Batch,
  type EpochSummary,
  type FunctionalClassifier,
  type TorchTensor,
  type TrainClassifierOptions,
  type TrainClassifierState,
} from '@promptkd/models';

// Issue "Reliability: resumable runs": a trainClassifier run interrupted at any checkpoint and resumed (model
// weights through the state dict, the rest through TrainClassifierState) ends bit-identical to an uninterrupted one.

const BATCHES = 5;
const EPOCHS = 3;

/**
 * A deterministic epoch of noisy two-class batches, built lazily (a run killed mid-epoch leaves none undisposed);
 * trainClassifier disposes each batch.
 */
function* epochBatches(epoch: number, count = BATCHES): Generator<Batch> {
  for (let i = 0; i < count; i++) {
    yield tf.tidy(() => {
      const y = tf.tensor1d(Array.from({ length: 6 }, (_, j) => (i + j + epoch) % 2), 'int32');
      const col = tf.reshape(tf.linspace(0, 1, 8), [1, 1, 8, 1]);
      const yf = tf.reshape(tf.cast(y, 'float32'), [6, 1, 1, 1]);
      const ramp = tf.add(tf.mul(yf, col), tf.mul(tf.sub(1, yf), tf.sub(1, col)));
      const noise = tf.randomNormal([6, 8, 8, 3], 0, 0.3, 'float32', 1 + 1000 * epoch + i); // seed 0 means "unseeded" to tf
      return { x: tf.clipByValue(tf.add(tf.tile(ramp, [1, 8, 1, 3]), noise), 0, 1) as tf.Tensor4D, y };
    });
  }
}

let arch: 'bnCnn' | 'vgg' = 'bnCnn';
/** The model under test: a BN CNN, or a tiny VGG-BN whose dropout draws from its own generator (rngState). */
const model = (): FunctionalClassifier =>
  (arch === 'vgg'
    ? createModel('vgg13Bn', { convsPerStage: [1, 1], widths: [4, 8], hidden: 16, dropout: 0.5, numClasses: 2, seed: 5 })
    : createModel('bnCnn', { blocks: [4, 8], numClasses: 2, seed: 5 })) as FunctionalClassifier;

const recipes: Record<'sgd' | 'adam', Omit<TrainClassifierOptions, 'checkpoint' | 'resume'>> = {
  sgd: { optimizer: 'sgd', lr: 0.1, momentum: 0.9, weightDecay: 5e-4, epochs: EPOCHS, cosine: true, seed: 1 },
  adam: { optimizer: 'adam', lr: 0.01, weightDecay: 1e-4, epochs: EPOCHS, cosine: true, seed: 1 },
};

/** What a caller would store: the state (JSON round trip, slots as arrays) plus the model's state dict. */
interface Stored {
  readonly state: TrainClassifierState;
  readonly weights: Map<string, TorchTensor>;
}

function store(state: TrainClassifierState, m: FunctionalClassifier): Stored {
  const { slots, ...rest } = state;
  const json = JSON.parse(JSON.stringify(rest)) as Omit<TrainClassifierState, 'slots'>;
  return { state: { ...json, slots: Object.fromEntries(Object.entries(slots).map(([k, a]) => [k, a.slice()])) }, weights: exportStateDict(m) };
}

function bytesOf(m: FunctionalClassifier): Map<string, Buffer> {
  return new Map([...m.namedVariables()].map(([k, v]) => {
    const a = v.dataSync() as Float32Array;
    return [k, Buffer.from(a.buffer, a.byteOffset, a.byteLength)];
  }));
}

function expectSameWeights(a: FunctionalClassifier, b: FunctionalClassifier): void {
  const wa = bytesOf(a);
  const wb = bytesOf(b);
  expect([...wb.keys()]).toEqual([...wa.keys()]);
  for (const [k, buf] of wa) expect(buf.equals(wb.get(k) as Buffer), `variable ${k} differs`).toBe(true);
}

/** Runs uninterrupted, storing every checkpoint; returns the model, its summaries and the checkpoints. */
async function straight(kind: 'sgd' | 'adam'): Promise<{ m: FunctionalClassifier; summaries: EpochSummary[]; saved: Stored[] }> {
  const m = model();
  const saved: Stored[] = [];
  const summaries = await trainClassifier(m, epochBatches, { ...recipes[kind], checkpoint: { everySteps: 3, save: (s) => void saved.push(store(s, m)) } });
  return { m, summaries, saved };
}

/** Trains until the `k`-th checkpoint, "dies" there, then resumes in a fresh model from what was stored. */
async function interruptedAt(kind: 'sgd' | 'adam', k: number): Promise<{ m: FunctionalClassifier; summaries: EpochSummary[]; from: TrainClassifierState }> {
  const first = model();
  let stored: Stored | undefined;
  let count = 0;
  const kill = new Error('killed');
  await expect(
    trainClassifier(first, epochBatches, {
      ...recipes[kind],
      checkpoint: {
        everySteps: 3,
        save: (s) => {
          stored = store(s, first);
          if (++count === k) throw kill;
        },
      },
    }),
  ).rejects.toBe(kill);
  first.dispose();
  const m = model();
  const n0 = tf.memory().numTensors;
  loadStateDict(m, (stored as Stored).weights);
  const summaries = await trainClassifier(m, epochBatches, { ...recipes[kind], resume: (stored as Stored).state });
  expect(tf.memory().numTensors).toBe(n0);
  return { m, summaries, from: (stored as Stored).state };
}

describe('trainClassifier checkpoint / resume', () => {
  for (const kind of ['sgd', 'adam'] as const) {
    it(`${kind}: resuming from a mid-epoch or an epoch-end checkpoint is bit-identical`, async () => {
      const n0 = tf.memory().numTensors;
      const ref = await straight(kind);
      // 15 steps, everySteps 3: saves at steps 3 (e0 b3), 5 (end e0), 6 (e1 b1), 9, 10 (end e1), 12, 15, 15 (end e2).
      expect(ref.saved.map((s) => [s.state.epoch, s.state.batchInEpoch, s.state.step])).toEqual([
        [0, 3, 3], [1, 0, 5], [1, 1, 6], [1, 4, 9], [2, 0, 10], [2, 2, 12], [2, 5, 15], [3, 0, 15],
      ]);
      expect(Object.keys(ref.saved[0]!.state.slots).length).toBe(ref.m.trainableVariables().length * (kind === 'adam' ? 2 : 1));
      expect(ref.summaries).toHaveLength(EPOCHS);
      // leak check of the uninterrupted run: only the model's variables remain
      expect(tf.memory().numTensors).toBe(n0 + ref.m.namedVariables().size);

      for (const k of [1, 2, 4]) {
        const run = await interruptedAt(kind, k);
        expect([run.from.epoch, run.from.batchInEpoch]).toEqual([[0, 3], [1, 0], [1, 4]][[1, 2, 4].indexOf(k)]);
        expectSameWeights(ref.m, run.m);
        expect(run.summaries).toEqual(ref.summaries);
        run.m.dispose();
      }
      ref.m.dispose();
      expect(tf.memory().numTensors).toBe(n0);
    });
  }

  it('resuming from the final checkpoint returns the summaries without training', async () => {
    const ref = await straight('sgd');
    const last = ref.saved.at(-1)!;
    const m = model();
    loadStateDict(m, last.weights);
    let steps = 0;
    const summaries = await trainClassifier(m, epochBatches, { ...recipes.sgd, resume: last.state, onProgress: () => void steps++ });
    expect(steps).toBe(0);
    expect(summaries).toEqual(ref.summaries);
    expectSameWeights(ref.m, m);
    m.dispose();
    ref.m.dispose();
  });

  it('refuses a state that does not fit the run, and a source shorter than the state says', async () => {
    const ref = await straight('sgd');
    const mid = ref.saved[0]!.state;
    const m = model();
    const n0 = tf.memory().numTensors;
    await expect(trainClassifier(m, epochBatches, { ...recipes.adam, resume: mid })).rejects.toBeInstanceOf(ConfigError);
    await expect(trainClassifier(m, epochBatches, { ...recipes.sgd, epochs: 4, resume: mid })).rejects.toBeInstanceOf(ConfigError);
    await expect(trainClassifier(m, epochBatches, { ...recipes.sgd, resume: { ...mid, version: 2 as 1 } })).rejects.toBeInstanceOf(ConfigError);
    const slots = { ...mid.slots, [Object.keys(mid.slots)[0]!]: new Float32Array(1) };
    await expect(trainClassifier(m, epochBatches, { ...recipes.sgd, resume: { ...mid, slots } })).rejects.toBeInstanceOf(ConfigError);
    const short = (e: number) => epochBatches(e, 2);
    await expect(trainClassifier(m, short, { ...recipes.sgd, resume: mid })).rejects.toBeInstanceOf(ConfigError);
    await expect(trainClassifier(m, epochBatches, { ...recipes.sgd, checkpoint: { everySteps: 0, save: () => {} } })).rejects.toBeInstanceOf(ConfigError);
    expect(tf.memory().numTensors).toBe(n0);
    m.dispose();
    ref.m.dispose();
  });

  it('a model with dropout (VGG-BN) resumes bit-identically: its dropout generator is part of the state', async () => {
    arch = 'vgg';
    try {
      const ref = await straight('sgd');
      expect(ref.saved[0]!.state.modelRng).toBeDefined();
      const run = await interruptedAt('sgd', 1);
      expectSameWeights(ref.m, run.m);
      expect(run.summaries).toEqual(ref.summaries);
      ref.m.dispose();
      run.m.dispose();
    } finally {
      arch = 'bnCnn';
    }
  });
});
