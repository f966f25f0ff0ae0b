import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng, type TrainingState } from '@promptkd/core';
import { PromptedClassifier, QueryCache, clsQueryFunction, createClMethod, runClassIncremental, trainTask } from '../src/index.js';
import { disposeTasks, syntheticTasks, tinyVit } from './helpers.js';

// The continual loops follow core's TrainCallbacks contract: a state exported in onEpochEnd and imported in
// onTrainBegin of a fresh run (fresh model, fresh optimizer) continues bit for bit.

const tasks = syntheticTasks(2, 2, 6);
const vit = tinyVit(16, 2, 0);
const query = clsQueryFunction(vit.backbone);
afterAll(() => {
  disposeTasks(tasks);
  vit.vit.dispose();
});

const model = () => {
  const method = createClMethod('coda', { embedDim: 16, keyDim: 16, numTasks: 2, rng: Rng.fromSeed(1), config: { poolSize: 4, length: 2, layers: [0, 1] } });
  return new PromptedClassifier(vit.backbone, method, 4, Rng.fromSeed(2));
};
const values = (m: PromptedClassifier) => [...m.namedVariables().values()].map((v) => Array.from(v.dataSync()));
const options = { epochs: 3, batchSize: 4, lr: 1e-2, maxStepsPerEpoch: 2 };

describe('trainTask: TrainCallbacks + Resumable', () => {
  it('reports totals, steps and epochs, and resumes an epoch-boundary state to the same losses and weights', async () => {
    const queries = new QueryCache(query, { cache: true });
    const straight = model();
    straight.beforeTask(tasks[0]!);
    const events: string[] = [];
    let saved: TrainingState | undefined;
    const losses = await trainTask(straight, tasks[0]!, options, {
      queries,
      rng: Rng.fromSeed(9),
      callbacks: {
        onTrainBegin: ({ epochs, steps }) => void events.push(`begin ${epochs} ${steps}`),
        onStepEnd: ({ step }) => void events.push(`step ${step}`),
        onEpochEnd: async ({ epoch, step, training }) => {
          events.push(`epoch ${epoch} ${step}`);
          if (epoch === 0) saved = await training.exportState();
        },
        onTrainEnd: ({ step }) => void events.push(`end ${step}`),
      },
    });
    expect(events).toEqual(['begin 3 6', 'step 1', 'step 2', 'epoch 0 2', 'step 3', 'step 4', 'epoch 1 4', 'step 5', 'step 6', 'epoch 2 6', 'end 6']);

    const before = tf.memory().numTensors;
    const resumed = model();
    resumed.beforeTask(tasks[0]!);
    let steps = 0;
    const rest = await trainTask(resumed, tasks[0]!, options, {
      queries,
      rng: Rng.fromSeed(12345), // replaced by the saved batch-order state
      callbacks: { onTrainBegin: ({ training }) => training.importState(saved!), onStepEnd: () => void steps++ },
    });
    expect(steps).toBe(4);
    expect(rest).toEqual(losses);
    expect(values(resumed)).toEqual(values(straight));
    await expect(
      trainTask(resumed, tasks[1]!, options, { queries, rng: Rng.fromSeed(1), callbacks: { onTrainBegin: ({ training }) => training.importState(saved!) } }),
    ).rejects.toThrow(/Cannot resume task 1/);
    resumed.dispose();
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose(Object.values(saved!.tensors));
    straight.dispose();
    queries.dispose();
  });
});

describe('runClassIncremental: per-task resume', () => {
  it('a stream resumed after task 0 ends with the same accuracy matrix and losses', async () => {
    const queries = new QueryCache(query, { cache: true });
    const run = (m: PromptedClassifier, callbacks: Parameters<typeof runClassIncremental>[2]['callbacks']) =>
      runClassIncremental(m, tasks, { epochs: 2, batchSize: 4, lr: 1e-2, maxStepsPerEpoch: 2, queries, rngForTask: (t) => Rng.fromSeed(50 + t), callbacks });
    let saved: TrainingState | undefined;
    const straight = model();
    const steps: number[] = [];
    const full = await run(straight, {
      onStepEnd: ({ step }) => void steps.push(step),
      onEpochEnd: async ({ epoch, training }) => {
        if (epoch === 0) saved = await training.exportState();
      },
    });
    expect(steps).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    const resumedModel = model();
    const resumed = await run(resumedModel, { onTrainBegin: ({ training }) => training.importState(saved!) });
    expect(resumed.accuracy).toEqual(full.accuracy);
    expect(resumed.lossPerEpoch).toEqual(full.lossPerEpoch);
    expect(values(resumedModel)).toEqual(values(straight));
    tf.dispose(Object.values(saved!.tensors));
    straight.dispose();
    resumedModel.dispose();
    queries.dispose();
  });
});
