import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { checkpointCallbacks, memoryCheckpointStore } from '@promptkd/core';
import { trainKiop, type KiopEpochEnd } from '@promptkd/kiop';
import { fakeContext } from './context.js';

// trainKiop follows core's TrainCallbacks contract; its Resumable (kiopTrainingState) saved after epoch 1 and
// restored into a fresh context continues to the same epochs and prompt as an uninterrupted run.

const strip = (e: { seconds: number }) => ({ ...e, seconds: 0 });

describe('trainKiop: TrainCallbacks + Resumable', () => {
  for (const variant of ['kiopBF', 'vanillaKd'] as const) {
    it(`${variant}: resumes at an epoch boundary to the same result`, async () => {
      const overrides = { epochs: 3, kdSteps: 2 };
      const a = fakeContext(variant, { overrides });
      const events: string[] = [];
      const straight = await trainKiop(a.ctx, {
        onTrainBegin: ({ epochs, steps }) => void events.push(`begin ${epochs} ${steps}`),
        onStepEnd: ({ step }) => void events.push(`step ${step}`),
        onEpochEnd: ({ epoch, step, metrics }: KiopEpochEnd) => void events.push(`epoch ${epoch} ${step} ${'accB' in metrics && 'loss.L_B' in metrics}`),
        onTrainEnd: ({ step }) => void events.push(`end ${step}`),
      });
      expect(events).toEqual(['begin 3 6', 'step 1', 'step 2', 'epoch 0 2 true', 'step 3', 'step 4', 'epoch 1 4 true', 'step 5', 'step 6', 'epoch 2 6 true', 'end 6']);
      const promptA = a.prompt.trainableVariables().map((v) => Array.from(v.dataSync()));

      const store = memoryCheckpointStore();
      const stop = new Error('stop after epoch 1');
      const b = fakeContext(variant, { overrides });
      await expect(
        trainKiop(b.ctx, checkpointCallbacks(store, { onSaved: ({ epoch }) => { if (epoch === 2) throw stop; } })),
      ).rejects.toBe(stop);
      b.dispose();
      const c = fakeContext(variant, { overrides });
      const before = tf.memory().numTensors;
      let restoredEpoch = -1;
      const resumed = await trainKiop(c.ctx, checkpointCallbacks(store, { onRestored: (s) => void (restoredEpoch = s.epoch) }));
      expect(restoredEpoch).toBe(2);
      expect(resumed.epochs.map(strip)).toEqual(straight.epochs.map(strip));
      expect(resumed.final).toEqual(straight.final);
      expect(c.prompt.trainableVariables().map((v) => Array.from(v.dataSync()))).toEqual(promptA);
      expect(tf.memory().numTensors).toBe(before);
      store.clear();
      a.dispose();
      c.dispose();
    });
  }
});
