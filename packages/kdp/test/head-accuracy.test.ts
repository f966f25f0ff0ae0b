import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { QueryCache, type QuerySource } from '@promptkd/continual';
import { evaluateHeads, headHistory, kdpPresets, recordHeads, resolveClConfig, runContinualDistillation, type CdlConfig } from '../src/index.js';
import { buildVit, disposeTasks, syntheticTasks } from './helpers.js';

const preset = kdpPresets.smoke;
const tasks = syntheticTasks(2, 2, 8, 5);
const T = buildVit(preset.teacher, 31);
const S = buildVit(preset.student, 32);
const backbones = { teacher: T.backbone, student: S.backbone, query: S.backbone };
afterAll(() => {
  disposeTasks(tasks);
  T.vit.dispose();
  S.vit.dispose();
});

/** A query source that returns zeros (the fake heads below ignore it). */
const noQueries: QuerySource = new QueryCache((x) => tf.zeros([x.shape[0], 1]) as tf.Tensor2D, { cache: false });

describe('evaluateHeads', () => {
  it('scores each head on the seen classes and, for the just-learned task, within its own classes (hand-derived)', () => {
    // head "a" always scores class 0 highest, then 3; head "b" always class 3. Task 1 = classes {2, 3}.
    const scores = (x: tf.Tensor4D, _q: tf.Tensor2D, hi: number) => {
      const n = x.shape[0];
      const a = tf.tile(tf.tensor2d([[5, 0, 1, 2]]).slice([0, 0], [1, hi]), [n, 1]) as tf.Tensor2D;
      const b = tf.tile(tf.tensor2d([[0, 0, 0, 9]]).slice([0, 0], [1, hi]), [n, 1]) as tf.Tensor2D;
      return { prediction: a, b };
    };
    const r = evaluateHeads(scores, tasks, 1, noQueries, 3);
    // 5 test images per class: "a" predicts 0 → task 0 (classes 0,1): 5/10, task 1: 0/10; "b" predicts 3 → 0, 5/10
    expect(r.seen).toEqual({ prediction: [0.5, 0], b: [0, 0.5] });
    // within task 1's columns {2, 3}: "a" → 3 (2 > 1), "b" → 3
    expect(r.withinTask).toEqual({ prediction: 0.5, b: 0.5 });
    const h = headHistory();
    recordHeads(h, evaluateHeads(scores, tasks, 0, noQueries));
    recordHeads(h, r);
    expect(h.accuracy).toEqual([[0.5], [0.5, 0]]);
    // after task 0 (hi = 2) "b" scores [0, 0] → class 0: 5/10
    expect(h.heads).toEqual({ b: [[0.5], [0, 0.5]] });
    // task 0 within {0, 1}: "a" → 0 (5/10), "b" → argmax of [0, 0] = 0 (5/10)
    expect(h.withinTask).toEqual({ prediction: [0.5, 0.5], b: [0.5, 0.5] });
  });
});

function config(kd: string): CdlConfig {
  return {
    clMethod: 'coda',
    clConfig: resolveClConfig(preset, 'coda', 2),
    kdMethod: kd,
    hyper: preset.kd,
    numClasses: 4,
    training: preset.training,
    seed: 2,
    cacheQueries: true,
    cacheTeacherLogits: true,
  };
}

describe('per-head records of a run', () => {
  it('token methods record g, k and the averaged prediction; one-head methods only the prediction', async () => {
    const kdp = await runContinualDistillation(tasks, backbones, config('kdp'));
    expect(Object.keys(kdp.student.heads ?? {}).sort()).toEqual(['g', 'k']);
    expect(kdp.student.heads?.g?.map((r) => r.length)).toEqual([1, 2]);
    expect(Object.keys(kdp.student.withinTask).sort()).toEqual(['g', 'k', 'prediction']);
    expect(kdp.student.withinTask.k).toHaveLength(2);
    expect(kdp.teacher?.withinTask.prediction).toHaveLength(2);
    const kd = await runContinualDistillation(tasks, backbones, config('kd'));
    expect(kd.student.heads).toBeUndefined();
    expect(Object.keys(kd.student.withinTask)).toEqual(['prediction']);
  });

  it('the KDP α = 0 control predicts with g alone and leaves the KD head at its initialisation', async () => {
    const r = await runContinualDistillation(tasks, backbones, config('kdp-alpha0'));
    expect(r.student.accuracy).toEqual(r.student.heads?.g);
    expect(r.student.withinTask.prediction).toEqual(r.student.withinTask.g);
  });
});
