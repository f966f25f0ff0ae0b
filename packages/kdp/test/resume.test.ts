import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { checkpointCallbacks, memoryCheckpointStore, type Resumable, type TrainingState } from '@promptkd/core';
import { QueryCache, clsQueryFunction } from '@promptkd/continual';
import { TeacherStream, kdpPresets, resolveClConfig, runContinualDistillation, type CdlConfig, type CdlState, type TeacherStreamState } from '../src/index.js';
import { buildVit, disposeTasks, syntheticTasks } from './helpers.js';

// The continual-distillation loop and the teacher stream follow core's TrainCallbacks contract: a state exported
// after a task and imported into freshly built objects continues bit for bit.

const preset = kdpPresets.smoke;
const tasks = syntheticTasks(3, 2, 8, 4);
const T = buildVit(preset.teacher, 41);
const S = buildVit(preset.student, 42);
const backbones = { teacher: T.backbone, student: S.backbone, query: S.backbone };
afterAll(() => {
  disposeTasks(tasks);
  T.vit.dispose();
  S.vit.dispose();
});

function config(kd: string, cl = 'coda', seed = 5): CdlConfig {
  return {
    clMethod: cl,
    clConfig: resolveClConfig(preset, cl, tasks.length),
    kdMethod: kd,
    hyper: preset.kd,
    numClasses: 6,
    training: preset.training,
    seed,
    cacheQueries: true,
    cacheTeacherLogits: true,
  };
}
const noTime = <R extends { seconds: number }>(r: R | undefined) => (r ? { ...r, seconds: 0 } : r);

describe('runContinualDistillation: TrainCallbacks + Resumable', () => {
  it('reports one epoch per task and resumes a state saved after task 0 (student and its own teacher) to the same result', async () => {
    const events: string[] = [];
    let saved: TrainingState<CdlState> | undefined;
    let teacherSteps = 0;
    const straight = await runContinualDistillation(tasks, backbones, config('kdp'), {
      callbacks: {
        onTrainBegin: ({ epochs, steps }) => void events.push(`begin ${epochs} ${steps}`),
        onStepEnd: ({ role }) => void (role === 'teacher' && teacherSteps++),
        onEpochEnd: async ({ epoch, step, student, teacher, training }) => {
          events.push(`task ${epoch} ${step} ${student.length} ${teacher?.length}`);
          if (epoch === 0) saved = (await training.exportState()) as TrainingState<CdlState>;
        },
        onTrainEnd: ({ step }) => void events.push(`end ${step}`),
      },
    });
    expect(events).toEqual(['begin 3 6', 'task 0 2 1 1', 'task 1 4 2 2', 'task 2 6 3 3', 'end 6']);
    expect(teacherSteps).toBe(6);
    expect(saved?.state.progress.tasks).toBe(1);
    expect(saved?.state.teacher?.trained).toBe(1); // the run's own (interleaved) teacher is part of its state
    expect(Object.keys(saved?.tensors ?? {}).some((k) => k.startsWith('teacher/task0/'))).toBe(true);

    const before = tf.memory().numTensors;
    let resumedTeacherSteps = 0;
    const resumed = await runContinualDistillation(tasks, backbones, config('kdp'), {
      callbacks: {
        onTrainBegin: ({ training }) => training.importState(saved as TrainingState<CdlState>),
        onStepEnd: ({ role }) => void (role === 'teacher' && resumedTeacherSteps++),
      },
    });
    expect(resumedTeacherSteps).toBe(4); // tasks 1 and 2 only: the teacher was not retrained
    expect(noTime(resumed.student)).toEqual(noTime(straight.student));
    expect(noTime(resumed.teacher)).toEqual(noTime(straight.teacher));
    tf.dispose(Object.values(saved?.tensors ?? {}));
    expect(tf.memory().numTensors).toBe(before - Object.keys(saved?.tensors ?? {}).length);
  });

  it('checkpointCallbacks on a memory store: a run that dies in task 1 resumes there with the same numbers', async () => {
    const straight = await runContinualDistillation(tasks, backbones, config('deit', 'dualprompt'));
    const store = memoryCheckpointStore();
    await expect(
      runContinualDistillation(tasks, backbones, config('deit', 'dualprompt'), {
        callbacks: {
          ...checkpointCallbacks(store),
          onStepEnd: ({ role, task }) => {
            if (role === 'student' && task === 1) throw new Error('killed');
          },
        },
      }),
    ).rejects.toThrow('killed');
    expect(store.saves).toBe(1);
    const tasksSeen: number[] = [];
    const resumed = await runContinualDistillation(tasks, backbones, config('deit', 'dualprompt'), {
      callbacks: { ...checkpointCallbacks(store), onEpochEnd: ({ task }) => void tasksSeen.push(task) },
    });
    expect(tasksSeen).toEqual([1, 2]);
    expect(noTime(resumed.student)).toEqual(noTime(straight.student));
    store.clear();
  });

  it('refuses to save mid-task and to import a state of another stream length', async () => {
    let err: unknown;
    let run: Resumable | undefined;
    await runContinualDistillation(tasks, backbones, config('none'), {
      callbacks: {
        onTrainBegin: ({ training }) => void (run = training),
        onStepEnd: async () => {
          err ??= await run?.exportState().catch((e: unknown) => e);
        },
      },
    });
    expect(String(err)).toMatch(/between tasks/);
    const bad = { tensors: {}, state: { progress: { tasks: 5, step: 0, accuracy: [], heads: {}, withinTask: {}, lossPerEpoch: [], seconds: 0 }, student: null } };
    await expect(
      runContinualDistillation(tasks, backbones, config('none'), { callbacks: { onTrainBegin: ({ training }) => training.importState(bad) } }),
    ).rejects.toThrow(/Cannot resume a 3-task run/);
  });
});

describe('TeacherStream: TrainCallbacks + Resumable', () => {
  it('a shared stream saved after task 1 and restored into a fresh one rewinds, continues and serves identical cached logits', async () => {
    const queries = new QueryCache(clsQueryFunction(S.backbone), { cache: true });
    const events: string[] = [];
    let saved: TrainingState<TeacherStreamState> | undefined;
    const a = new TeacherStream({
      backbone: T.backbone,
      keyDim: 16,
      config: config('kd'),
      numTasks: 3,
      queries,
      callbacks: {
        onTrainBegin: ({ epochs, steps }) => void events.push(`begin ${epochs} ${steps}`),
        onEpochEnd: async ({ task, step, accuracies, training }) => {
          events.push(`task ${task} ${step} ${accuracies.length}`);
          if (task === 1) saved = (await training.exportState()) as TrainingState<TeacherStreamState>;
        },
        onTrainEnd: () => void events.push('end'),
      },
    });
    await a.ensureTask(tasks, 2);
    expect(events).toEqual(['begin 3 6', 'task 0 2 1', 'task 1 4 2', 'task 2 6 3', 'end']);
    expect(saved?.state.snapshots).toEqual([0, 1]);
    const logitsOf = async (s: TeacherStream, t: number) => {
      await s.ensureTask(tasks, t);
      const b = { x: tasks[t]!.train.x, y: tf.tensor1d([], 'int32'), query: tf.zeros([1, 1]) as tf.Tensor2D, indices: Int32Array.from({ length: 16 }, (_, i) => i) };
      const out = s.source().outputs(b, tasks[t]!, 'none').logits;
      const values = Array.from(out.dataSync());
      tf.dispose([out, b.y, b.query]);
      return values;
    };
    const b = new TeacherStream({ backbone: T.backbone, keyDim: 16, config: config('kd'), numTasks: 3, queries });
    await b.importState(saved!);
    expect(b.tasksTrained).toBe(2);
    expect(await logitsOf(b, 0)).toEqual(await logitsOf(a, 0)); // rewound to task 0, logits recomputed
    await b.ensureTask(tasks, 2);
    await a.ensureTask(tasks, 2);
    expect(noTime(b.result())).toEqual(noTime(a.result()));
    b.model.trainableVariables().forEach((v, i) => expect(Array.from(v.dataSync())).toEqual(Array.from(a.model.trainableVariables()[i]!.dataSync())));
    expect(await logitsOf(b, 1)).toEqual(await logitsOf(a, 1));
    tf.dispose(Object.values(saved!.tensors));
    a.dispose();
    b.dispose();
    queries.dispose();
  });
});
