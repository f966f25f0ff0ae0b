import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import { QueryCache, clMethodRegistry, clsQueryFunction } from '@promptkd/continual';
import {
  TeacherStream,
  exportStudentState,
  kdMethodRegistry,
  kdpPresets,
  resolveClConfig,
  runContinualDistillation,
  validateKdpPreset,
  parseKdpPreset,
  type CdlConfig,
  type KdpPreset,
} from '../src/index.js';
import { buildVit, disposeTasks, syntheticTasks } from './helpers.js';

const preset = kdpPresets.smoke;
const tasks = syntheticTasks(preset.data.numTasks, preset.data.classesPerTask, preset.data.trainPerClass, preset.data.testPerClass);
const T = buildVit(preset.teacher, 21);
const S = buildVit(preset.student, 22);
const backbones = { teacher: T.backbone, student: S.backbone, query: S.backbone };
afterAll(() => {
  disposeTasks(tasks);
  T.vit.dispose();
  S.vit.dispose();
});

function config(cl: string, kd: string, seed = 0): CdlConfig {
  return {
    clMethod: cl,
    clConfig: resolveClConfig(preset, cl, preset.data.numTasks),
    kdMethod: kd,
    hyper: preset.kd,
    numClasses: preset.data.numTasks * preset.data.classesPerTask,
    training: preset.training,
    seed,
    cacheQueries: preset.cache.queries,
    cacheTeacherLogits: preset.cache.teacherLogits,
  };
}

describe('smoke: every CL method × KD method', () => {
  it.each(clMethodRegistry.keys())('%s × all KD methods completes (one shared teacher run)', async (cl) => {
    const before = tf.memory().numTensors;
    const queries = new QueryCache(clsQueryFunction(S.backbone), { cache: true });
    const teacher = new TeacherStream({ backbone: T.backbone, keyDim: 16, config: config(cl, 'kd'), numTasks: tasks.length, queries });
    for (const kd of kdMethodRegistry.keys()) {
      const res = await runContinualDistillation(tasks, backbones, config(cl, kd), { teacher, queries });
      expect(res.student.accuracy.map((r) => r.length)).toEqual([1, 2]);
      expect(Number.isFinite(res.student.summary.finalAccuracy)).toBe(true);
      expect(res.student.lossPerEpoch.flat().every(Number.isFinite)).toBe(true);
      if (kd !== 'none') expect(res.teacher?.accuracy.length).toBe(2);
    }
    expect(teacher.tasksTrained).toBe(2);
    teacher.dispose();
    queries.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it('the interleaved run (own teacher) equals the run with a shared, rewound teacher stream', async () => {
    const a = await runContinualDistillation(tasks, backbones, config('dualprompt', 'kdp', 3));
    const queries = new QueryCache(clsQueryFunction(S.backbone), { cache: true });
    const teacher = new TeacherStream({ backbone: T.backbone, keyDim: 16, config: config('dualprompt', 'kdp', 3), numTasks: 2, queries });
    await teacher.ensureTask(tasks, 1); // train the whole stream first, then rewind per task
    const b = await runContinualDistillation(tasks, backbones, config('dualprompt', 'kdp', 3), { teacher, queries });
    expect(b.student.accuracy).toEqual(a.student.accuracy);
    expect(b.student.lossPerEpoch).toEqual(a.student.lossPerEpoch);
    expect(b.teacher?.accuracy).toEqual(a.teacher?.accuracy);
    teacher.dispose();
    queries.dispose();
  });

  it('a rewound teacher stream comes back to the last task (live-teacher methods read it)', async () => {
    const queries = new QueryCache(clsQueryFunction(S.backbone), { cache: true });
    const teacher = new TeacherStream({ backbone: T.backbone, keyDim: 16, config: config('coda', 'kdp', 3), numTasks: 2, queries });
    await teacher.ensureTask(tasks, 1);
    const last = teacher.model.trainableVariables().map((v) => v.dataSync().slice());
    await teacher.ensureTask(tasks, 0); // rewind
    await teacher.ensureTask(tasks, 1); // must restore task 1's weights, not keep task 0's
    teacher.model.trainableVariables().forEach((v, i) => expect(Array.from(v.dataSync())).toEqual(Array.from(last[i]!)));
    teacher.dispose();
    queries.dispose();
  });

  it('a run resumed after task 0 from a saved student state equals the uninterrupted run', async () => {
    let saved: Map<string, tf.Tensor> | undefined;
    let rows: number[][] = [];
    let losses: number[][] = [];
    const full = await runContinualDistillation(tasks, backbones, config('coda', 'kdp', 6), {
      onTaskEnd: (t, _s, _t, h) => {
        if (t === 0) saved = exportStudentState(h.student);
      },
    });
    rows = full.student.accuracy.slice(0, 1);
    losses = full.student.lossPerEpoch.slice(0, 1);
    const resumed = await runContinualDistillation(tasks, backbones, config('coda', 'kdp', 6), {
      resume: { fromTask: 1, studentState: saved!, accuracy: rows, lossPerEpoch: losses },
    });
    expect(resumed.student.accuracy).toEqual(full.student.accuracy);
    expect(resumed.student.lossPerEpoch).toEqual(full.student.lossPerEpoch);
    tf.dispose([...saved!.values()]);
    await expect(
      runContinualDistillation(tasks, backbones, config('coda', 'kdp', 6), { resume: { fromTask: 3, studentState: new Map(), accuracy: [], lossPerEpoch: [] } }),
    ).rejects.toThrow(/Cannot resume/);
  });

  it('student alone needs no teacher and is paired by seed (same seed ⇒ same result)', async () => {
    const a = await runContinualDistillation(tasks, backbones, config('l2p', 'none', 4));
    const b = await runContinualDistillation(tasks, backbones, config('l2p', 'none', 4));
    expect(a.teacher).toBeUndefined();
    expect(a.student.lossPerEpoch).toEqual(b.student.lossPerEpoch);
    await expect(runContinualDistillation(tasks, backbones, config('l2p', 'nope'))).rejects.toThrow(/Valid keys/);
  });
});

describe('presets', () => {
  it('every preset validates and resolves CL configs', () => {
    for (const p of Object.values(kdpPresets)) {
      expect(validateKdpPreset(p)).toBe(p);
      for (const cl of clMethodRegistry.keys()) expect(resolveClConfig(p, cl, p.data.numTasks)).toBeTypeOf('object');
    }
    expect(kdpPresets.paper.kd).toMatchObject({ alpha: 0.5, temperature: 2, kdLayers: 12, kdPromptLength: 6 });
    expect(resolveClConfig(kdpPresets.paper, 'coda', 10)).toMatchObject({ poolSize: 100, length: 8, numTasks: 10 });
    expect(resolveClConfig(kdpPresets.cpu, 'dualprompt', 5)).toMatchObject({ poolSize: 5, eLength: 4 });
  });

  it('rejects inconsistent presets with a ConfigError naming the field', () => {
    const bad: KdpPreset = { ...kdpPresets.cpu, kd: { ...kdpPresets.cpu.kd, kdLayers: 9 } };
    expect(() => validateKdpPreset(bad)).toThrow(ConfigError);
    expect(() => validateKdpPreset(bad)).toThrow(/kd.kdLayers/);
    const aug: KdpPreset = { ...kdpPresets.cpu, data: { ...kdpPresets.cpu.data, augment: true } };
    expect(() => validateKdpPreset(aug)).toThrow(/cache/);
  });

  it('every preset is data that its zod schema accepts; JSON presets are parsed field by field', () => {
    for (const p of Object.values(kdpPresets)) expect(parseKdpPreset(JSON.parse(JSON.stringify(p)), `preset '${p.name}'`)).toEqual(p);
    const raw = JSON.parse(JSON.stringify(kdpPresets.cpu)) as { cl: { coda: { length: number } }; training: Record<string, unknown>; kd: { kdLayers: number } };
    raw.cl.coda.length = 3;
    expect(() => parseKdpPreset(raw, 'cpu.json')).toThrow(ConfigError);
    expect(() => parseKdpPreset(raw, 'cpu.json')).toThrow(/cl\.coda\.length[\s\S]*even/);
    raw.cl.coda.length = 4;
    raw.training.epochz = 3;
    expect(() => parseKdpPreset(raw, 'cpu.json')).toThrow(/epochz/);
    delete raw.training.epochz;
    raw.kd.kdLayers = 9; // passes the field check, fails the cross-field one
    expect(() => parseKdpPreset(raw, 'cpu.json')).toThrow(/kd.kdLayers/);
  });
});
