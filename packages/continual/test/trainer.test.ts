import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '@promptkd/core';
import { expectClose, expectNoTensorLeak } from '@promptkd/testing';
import {
  taskOptimizer,
  PromptedClassifier,
  QueryCache,
  clsQueryFunction,
  createClMethod,
  gatherRows,
  runClassIncremental,
  trainStep,
  trainTask,
} from '../src/index.js';
import { disposeTasks, sameValues, snapshot, syntheticTasks, tinyVit } from './helpers.js';

const tasks = syntheticTasks(2, 2, 6);
const student = tinyVit(16, 2, 0);
const teacherVit = tinyVit(24, 2, 1);
const query = clsQueryFunction(student.backbone);
afterAll(() => {
  disposeTasks(tasks);
  student.vit.dispose();
  teacherVit.vit.dispose();
});

const configs: Record<string, Record<string, unknown>> = {
  l2p: { poolSize: 4, length: 2, topK: 2 },
  dualprompt: { eLength: 2, gLength: 2, gLayers: [0], eLayers: [1] },
  coda: { poolSize: 4, length: 2, layers: [0, 1] },
};

function model(key: string, backbone = teacherVit.backbone, seed = 0): PromptedClassifier {
  const method = createClMethod(key, { embedDim: backbone.embedDim, keyDim: 16, numTasks: 2, rng: Rng.fromSeed(seed), config: configs[key] });
  return new PromptedClassifier(backbone, method, 4, Rng.fromSeed(seed + 100));
}

describe('query function', () => {
  it('is the final-norm [CLS] of the prompt-free query ViT; the cache returns the same rows', () => {
    const x = tasks[0]!.train.x;
    const q = query(x);
    expect(q.shape).toEqual([x.shape[0], 16]);
    const direct = tf.tidy(() => {
      const t = student.backbone.forward(x).tokens;
      return tf.reshape(tf.slice(t, [0, 0, 0], [x.shape[0], 1, 16]), [x.shape[0], 16]);
    });
    expectClose(q.dataSync(), direct.dataSync());
    const cache = new QueryCache(query, { cache: true, batchSize: 5 });
    const idx = Int32Array.from([3, 0, 7]);
    const { x: xb, y } = gatherRows(tasks[0]!.train, idx);
    const got = cache.queries('train/0', x, idx, xb);
    const want = tf.tidy(() => tf.gather(q, tf.tensor1d(idx, 'int32')));
    expectClose(got.dataSync(), want.dataSync(), { rtol: 1e-4, atol: 1e-5 });
    expect(cache.size).toBe(1);
    tf.dispose([q, direct, xb, y, got, want]);
    cache.dispose();
  });
});

describe.each(['l2p', 'dualprompt', 'coda'])('%s on a tiny ViT', (key) => {
  it('a training step leaks no tensors and only trains prompts + head (backbone and query ViT unchanged)', async () => {
    const m = model(key);
    const vars = m.trainableVariables();
    const opt = taskOptimizer(1e-2);
    const idx = Int32Array.from([0, 1, 2, 3, 6, 7]);
    const { x, y } = gatherRows(tasks[0]!.train, idx);
    const q = query(x);
    const backboneBefore = snapshot(teacherVit.backbone.variables());
    const queryBefore = snapshot(student.backbone.variables());
    const promptsBefore = snapshot(vars);
    await expectNoTensorLeak(() => trainStep(m, vars, opt, { x, y, query: q, indices: idx }, tasks[0]!), { label: `${key} step` });
    expect(sameValues(snapshot(teacherVit.backbone.variables()), backboneBefore)).toBe(true);
    expect(sameValues(snapshot(student.backbone.variables()), queryBefore)).toBe(true);
    expect(sameValues(snapshot(vars), promptsBefore)).toBe(false);
    tf.dispose([x, y, q]);
    opt.dispose();
    m.dispose();
  });

  it('runs a 2-task class-incremental stream and fills the accuracy matrix', async () => {
    const m = model(key);
    const queries = new QueryCache(query, { cache: true });
    const before = tf.memory().numTensors;
    let pastHead: Float32Array | undefined;
    let pastRows: Float32Array | undefined;
    const res = await runClassIncremental(m, tasks, {
      epochs: 2,
      batchSize: 4,
      lr: 1e-2,
      queries,
      rngForTask: (t) => Rng.fromSeed(1000 + t),
      maxStepsPerEpoch: 2,
      onTaskEnd: (t) => {
        if (t === 0) {
          // head rows of task 0 classes (columns 0,1) and, for CODA, the components of task 0
          pastHead = tf.tidy(() => tf.slice(m.head.weight, [0, 0], [-1, 2]).dataSync() as Float32Array);
          if (key === 'coda') pastRows = tf.tidy(() => tf.slice(m.method.namedVariables().get('e_p_0') as tf.Variable, [0, 0, 0], [2, -1, -1]).dataSync() as Float32Array);
        }
      },
    });
    expect(res.accuracy.length).toBe(2);
    expect(res.accuracy[1]!.length).toBe(2);
    expect(res.lossPerEpoch.every((l) => l.length === 2 && l.every(Number.isFinite))).toBe(true);
    expect(res.summary.finalAccuracy).toBeGreaterThanOrEqual(0);
    // masked CE ⇒ past head rows get zero gradient; fresh Adam per task ⇒ they stay exactly fixed
    const headNow = tf.tidy(() => tf.slice(m.head.weight, [0, 0], [-1, 2]).dataSync() as Float32Array);
    expect(Array.from(headNow)).toEqual(Array.from(pastHead!));
    if (key === 'coda') {
      const rowsNow = tf.tidy(() => tf.slice(m.method.namedVariables().get('e_p_0') as tf.Variable, [0, 0, 0], [2, -1, -1]).dataSync() as Float32Array);
      expect(Array.from(rowsNow)).toEqual(Array.from(pastRows!));
    }
    queries.dispose();
    expect(tf.memory().numTensors).toBe(before);
    m.dispose();
  });
});

describe('trainTask', () => {
  it('is reproducible for the same seed (paired runs)', async () => {
    const run = async () => {
      const m = model('l2p', teacherVit.backbone, 4);
      const queries = new QueryCache(query, { cache: false });
      const losses = await trainTask(m, tasks[0]!, { epochs: 1, batchSize: 4, lr: 1e-2, maxStepsPerEpoch: 2 }, { queries, rng: Rng.fromSeed(9) });
      m.dispose();
      return losses;
    };
    expect(await run()).toEqual(await run());
  });
});
