import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { checkpointCallbacks, memoryCheckpointStore } from '@promptkd/core';
import { createModel, trainClassifier, type Batch, type FunctionalClassifier } from '@promptkd/models';

// trainClassifier follows core's TrainCallbacks contract; core's checkpointCallbacks (restore at onTrainBegin,
// save mid-epoch and at epoch ends) resumes it bit for bit from its Resumable state.

function* batches(epoch: number): Generator<Batch> {
  for (let i = 0; i < 4; i++) {
    yield tf.tidy(() => ({ x: tf.randomUniform([6, 8, 8, 3], 0, 1, 'float32', 1 + 100 * epoch + i) as tf.Tensor4D, y: tf.tensor1d([0, 1, 0, 1, 1, 0], 'int32') }));
  }
}
const model = () => createModel('bnCnn', { blocks: [4, 8], numClasses: 2, seed: 5 }) as FunctionalClassifier;
const recipe = { optimizer: 'adam' as const, lr: 0.01, weightDecay: 1e-4, epochs: 3, cosine: true, seed: 1, stepsPerEpoch: 4 };
const values = (m: FunctionalClassifier) => [...m.namedVariables().values()].map((v) => Array.from(v.dataSync()));

describe('trainClassifier: TrainCallbacks + checkpointCallbacks', () => {
  it('reports the totals and epochs, and resumes from a mid-epoch save bit-identically', async () => {
    const straight = model();
    const events: string[] = [];
    const ref = await trainClassifier(straight, batches, {
      ...recipe,
      callbacks: {
        onTrainBegin: ({ epochs, steps }) => void events.push(`begin ${epochs}×${steps / epochs}`),
        onEpochEnd: ({ epoch, step, metrics }) => void events.push(`epoch ${epoch} step ${step} lr ${metrics.lr?.toFixed(4)}`),
        onTrainEnd: ({ step }) => void events.push(`end ${step}`),
      },
    });
    expect(events).toEqual(['begin 3×4', 'epoch 0 step 4 lr 0.0100', 'epoch 1 step 8 lr 0.0075', 'epoch 2 step 12 lr 0.0025', 'end 12']);

    const store = memoryCheckpointStore();
    const kill = new Error('killed');
    const first = model();
    const n0 = tf.memory().numTensors;
    await expect(
      trainClassifier(first, batches, {
        ...recipe,
        callbacks: checkpointCallbacks(store, {
          everySteps: 3,
          onSaved: ({ step }) => {
            if (step === 6) throw kill; // mid-epoch 1 (batch 2 of 4)
          },
        }),
      }),
    ).rejects.toBe(kill);
    const held = await store.load(); // the store keeps one copy of the last state; nothing else is left behind
    expect(tf.memory().numTensors).toBe(n0 + 2 * Object.keys(held!.tensors).length);
    tf.dispose(Object.values(held!.tensors));
    first.dispose();
    const resumed = model();
    let restoredAt = -1;
    const summaries = await trainClassifier(resumed, batches, {
      ...recipe,
      callbacks: checkpointCallbacks(store, { onRestored: (s) => void (restoredAt = s.step) }),
    });
    expect(restoredAt).toBe(6);
    expect(summaries).toEqual(ref);
    expect(values(resumed)).toEqual(values(straight));
    store.clear();
    straight.dispose();
    resumed.dispose();
  });
});
