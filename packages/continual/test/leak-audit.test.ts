import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '@promptkd/core';
import { PromptedClassifier, QueryCache, clsQueryFunction, createClMethod, trainTask } from '../src/index.js';
import { disposeTasks, syntheticTasks, tinyVit } from './helpers.js';

/**
 * Issue 11 leak audit: a whole `trainTask` (fresh Adam, several steps over two epochs, with and without
 * augmentation / cached queries) leaves `tf.memory().numTensors` unchanged once its own caches are disposed.
 * (`trainStep` alone is audited in trainer.test.ts, `runClassIncremental` there too.)
 */

const tasks = syntheticTasks(2, 2, 6, 5);
const vit = tinyVit(16, 2, 3);
const query = clsQueryFunction(vit.backbone);
afterAll(() => {
  disposeTasks(tasks);
  vit.vit.dispose();
});

const configs: Record<string, Record<string, unknown>> = {
  l2p: { poolSize: 4, length: 2, topK: 2 },
  dualprompt: { eLength: 2, gLength: 2, gLayers: [0], eLayers: [1] },
  coda: { poolSize: 4, length: 2, layers: [0, 1] },
};

function model(key: string): PromptedClassifier {
  const method = createClMethod(key, { embedDim: vit.backbone.embedDim, keyDim: 16, numTasks: 2, rng: Rng.fromSeed(1), config: configs[key] });
  return new PromptedClassifier(vit.backbone, method, 4, Rng.fromSeed(2));
}

/** Horizontal flip on odd steps: allocates, so a missing dispose in the augmentation path would show. */
function flipSometimes(x: tf.Tensor4D, rng: Rng): tf.Tensor4D {
  return rng.random() < 0.5 ? tf.reverse(x, 2) : x;
}

describe.each(Object.keys(configs))('leak audit: continual trainTask (%s)', (key) => {
  it('2 epochs × 2 steps leave numTensors unchanged (uncached queries + augmentation, then cached queries)', { timeout: 15_000 }, async () => {
    const m = model(key);
    const before = tf.memory().numTensors;
    let steps = 0;
    const options = { epochs: 2, batchSize: 4, lr: 1e-2, maxStepsPerEpoch: 2 };
    const uncached = new QueryCache(query, { cache: false });
    const l1 = await trainTask(m, tasks[0]!, options, { queries: uncached, rng: Rng.fromSeed(3), augment: flipSometimes, onStep: () => void steps++ });
    uncached.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const cached = new QueryCache(query, { cache: true });
    const l2 = await trainTask(m, tasks[1]!, options, { queries: cached, rng: Rng.fromSeed(4), onStep: () => void steps++ });
    cached.dispose();
    expect(tf.memory().numTensors).toBe(before);
    expect(steps).toBe(8);
    expect([...l1, ...l2].every(Number.isFinite)).toBe(true);
    m.dispose();
  });
});
