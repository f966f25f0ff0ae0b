import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { Rng } from '@promptkd/core';
import { expectClose, expectNoTensorLeak } from '@promptkd/testing';
import { PromptedClassifier, QueryCache, clsQueryFunction, createClMethod, gatherRows, maskedCrossEntropy, taskOptimizer, trainStep } from '@promptkd/continual';
import {
  DistillationStudent,
  KdPrompts,
  LiveTeacher,
  computeTaskTeacherLogits,
  createKdMethod,
  kdMethodRegistry,
  kdpPresets,
  resolveClConfig,
  type KdHyperParams,
  type KdMethod,
} from '../src/index.js';
import { buildVit, disposeTasks, sameValues, snapshot, syntheticTasks } from './helpers.js';

const preset = kdpPresets.smoke;
const tasks = syntheticTasks(2, 2, 6, 2);
const T = buildVit(preset.teacher, 11);
const S = buildVit(preset.student, 12);
const query = clsQueryFunction(S.backbone);
const hyper: KdHyperParams = { ...preset.kd, kdLayers: 2 };
afterAll(() => {
  disposeTasks(tasks);
  T.vit.dispose();
  S.vit.dispose();
});

function kdArgs(h: KdHyperParams = hyper, seed = 5) {
  return {
    hyper: h,
    studentDim: 16,
    studentDepth: 2,
    teacherDim: 24,
    teacherDepth: 2,
    numClasses: 4,
    rng: Rng.fromSeed(seed),
  };
}

function clModel(backbone = S.backbone, seed = 0, cl = 'coda'): PromptedClassifier {
  const method = createClMethod(cl, { embedDim: backbone.embedDim, keyDim: 16, numTasks: 2, rng: Rng.fromSeed(seed), config: resolveClConfig(preset, cl, 2) });
  return new PromptedClassifier(backbone, method, 4, Rng.fromSeed(seed + 1));
}

function batch(task = 0, rows = [0, 1, 6, 7]) {
  const indices = Int32Array.from(rows);
  const { x, y } = gatherRows(tasks[task]!.train, indices);
  return { x, y, query: query(x), indices };
}

describe('KDP wiring', () => {
  it('appends one KD token after the patch tokens and the KD head reads the last position', () => {
    const parts = new KdPrompts({ dim: 16, depth: 2, kdLayers: 2, length: 2, numClasses: 4, rng: Rng.fromSeed(1) });
    const m = clModel();
    const b = batch();
    tf.tidy(() => {
      const ex = parts.extras(4);
      expect(ex.extraTokens.shape).toEqual([4, 1, 16]);
      expect(ex.appendPrefixes[0]).toBeUndefined(); // layer 0: the token plays that role
      expect(ex.appendPrefixes[1]?.key.shape).toEqual([4, 1, 16]); // L_kd/2 = 1 key, 1 value
      const plain = m.forward(b.x, b.query, { training: false });
      const withKd = m.forward(b.x, b.query, { training: false, ...ex });
      expect(plain.tokens.shape).toEqual([4, 17, 16]);
      expect(withKd.tokens.shape).toEqual([4, 18, 16]); // exactly one more position; KD prefixes add none
      const last = tf.reshape(tf.slice(withKd.tokens, [0, 17, 0], [4, 1, 16]), [4, 16]) as tf.Tensor2D;
      expectClose(parts.kdLogits(withKd.tokens).dataSync(), parts.head.apply(last).dataSync());
      // (that the extra token gets no positional embedding is the ViT's contract, tested in @promptkd/models)
      expect(Array.from(withKd.cls.dataSync())).not.toEqual(Array.from(plain.cls.dataSync())); // CLS attends to the KD token
    });
    tf.dispose([b.x, b.y, b.query]);
    parts.dispose();
    m.dispose();
  });

  it('KD prefixes go to layers 1..n_kd−1 and are appended after the real keys', () => {
    const parts = new KdPrompts({ dim: 16, depth: 2, kdLayers: 2, length: 2, numClasses: 4, rng: Rng.fromSeed(2) });
    expect([...parts.prefixes.keys()]).toEqual([1]);
    expect([...parts.namedVariables().keys()].sort()).toEqual(['kd_last.bias', 'kd_last.weight', 'kd_prompt_1', 'kd_token']);
    const m = clModel();
    const b = batch();
    tf.tidy(() => {
      const ex = parts.extras(4);
      const out = m.forward(b.x, b.query, { training: false, ...ex });
      // same prefixes prepended instead of appended: attention is order-invariant ⇒ identical outputs
      const sel = m.method.select(b.query, { training: false });
      const swapped = S.backbone.forward(b.x, {
        extraTokens: ex.extraTokens,
        prefixes: [
          sel.prefixes[0] ? { prepend: sel.prefixes[0] } : undefined,
          { prepend: { key: tf.concat([sel.prefixes[1]!.key, ex.appendPrefixes[1]!.key], 1) as tf.Tensor3D, value: tf.concat([sel.prefixes[1]!.value, ex.appendPrefixes[1]!.value], 1) as tf.Tensor3D } },
        ],
      });
      expectClose(out.tokens.dataSync(), swapped.tokens.dataSync(), { rtol: 1e-4, atol: 1e-5 });
    });
    expect(() => new KdPrompts({ dim: 16, depth: 2, kdLayers: 3, length: 2, numClasses: 4, rng: Rng.fromSeed(2) })).toThrow(/kdLayers/);
    tf.dispose([b.x, b.y, b.query]);
    parts.dispose();
    m.dispose();
  });

  it('KDP with n_kd = 1 is the DeiT baseline (token + head, no prefixes)', () => {
    const kdp1 = createKdMethod('kdp', kdArgs({ ...hyper, kdLayers: 1 }, 7));
    const deit = createKdMethod('deit', kdArgs(hyper, 7));
    expect([...deit.namedVariables().keys()].sort()).toEqual(['kd_last.bias', 'kd_last.weight', 'kd_token']);
    const m = clModel();
    const teacher = clModel(T.backbone, 3);
    const b = batch();
    const ctx = tasks[0]!;
    const lossOf = (method: KdMethod) =>
      tf.tidy(() => new DistillationStudent(m, method, new LiveTeacher(teacher)).loss(b, ctx).total.dataSync()[0] as number);
    expect(lossOf(kdp1)).toBe(lossOf(deit));
    const predOf = (method: KdMethod) => tf.tidy(() => Array.from(new DistillationStudent(m, method, undefined).predict(b.x, b.query, 2).dataSync()));
    expect(predOf(kdp1)).toEqual(predOf(deit));
    tf.dispose([b.x, b.y, b.query]);
    [kdp1, deit, m, teacher].forEach((d) => d.dispose());
  });

  it('α = 0 gives the student-alone objective (masked CE + key loss; the KD head gets no gradient)', () => {
    const kdp0 = createKdMethod('kdp', kdArgs({ ...hyper, alpha: 0 }));
    const m = clModel();
    const teacher = clModel(T.backbone, 3);
    const student = new DistillationStudent(m, kdp0, new LiveTeacher(teacher));
    const b = batch();
    const ctx = tasks[0]!;
    tf.tidy(() => {
      const res = student.loss(b, ctx);
      const fwd = student.forward(b.x, b.query, true);
      const expected = tf.add(maskedCrossEntropy(fwd.logits, b.y, ctx.lo, ctx.hi), fwd.keyLoss ?? tf.scalar(0));
      expectClose(res.total.dataSync(), expected.dataSync(), { rtol: 1e-5 });
      const head = kdp0.namedVariables();
      const { grads } = tf.variableGrads(() => student.loss(b, ctx).total, [head.get('kd_last.weight')!, m.head.weight]);
      expect(grads[head.get('kd_last.weight')!.name]?.abs().max().dataSync()[0] ?? 0).toBe(0);
      expect(grads[m.head.weight.name]!.abs().max().dataSync()[0]).toBeGreaterThan(0);
      // prediction with α = 0 is the CLS head alone
      const pred = student.predict(b.x, b.query, 2);
      expectClose(pred.dataSync(), tf.slice(m.forward(b.x, b.query, { training: false, ...kdp0.studentExtras(4) }).logits, [0, 0], [4, 2]).dataSync());
    });
    tf.dispose([b.x, b.y, b.query]);
    [kdp0, m, teacher].forEach((d) => d.dispose());
  });

  it('the KD head learns only from the teacher on current-task columns; the CLS head only from labels', () => {
    const kdp1 = createKdMethod('kdp', kdArgs({ ...hyper, alpha: 1 }));
    const m = clModel();
    const teacher = clModel(T.backbone, 3);
    const student = new DistillationStudent(m, kdp1, new LiveTeacher(teacher));
    student.beforeTask(tasks[1]!);
    teacher.beforeTask(tasks[1]!);
    const b = batch(1);
    const ctx = tasks[1]!;
    tf.tidy(() => {
      const kdW = kdp1.namedVariables().get('kd_last.weight')!;
      const { grads } = tf.variableGrads(() => student.loss(b, ctx).total, [kdW, m.head.weight]);
      expect(grads[m.head.weight.name]?.abs().max().dataSync()[0] ?? 0).toBe(0); // α = 1: no CE
      const g = grads[kdW.name]!.arraySync() as number[][];
      for (const row of g) {
        expect(row.slice(0, 2).every((v) => v === 0)).toBe(true); // past classes not distilled
        expect(row.slice(2, 4).some((v) => v !== 0)).toBe(true);
      }
    });
    tf.dispose([b.x, b.y, b.query]);
    [kdp1, m, teacher].forEach((d) => d.dispose());
  });

  it('cached teacher logits equal the live eval-mode teacher on [lo, hi)', () => {
    const teacher = clModel(T.backbone, 3, 'dualprompt');
    const queries = new QueryCache(query, { cache: true });
    const ctx = tasks[0]!;
    const cached = computeTaskTeacherLogits(teacher, ctx.train.x, ctx, queries, 'train/0', 5);
    expect(cached.shape).toEqual([12, 2]);
    const b = batch();
    const live = new LiveTeacher(teacher).outputs(b, ctx, 'none');
    const fromCache = new LiveTeacher(teacher, () => cached).outputs(b, ctx, 'none');
    expectClose(fromCache.logits.dataSync(), live.logits.dataSync(), { rtol: 1e-4, atol: 1e-5 });
    const feats = new LiveTeacher(teacher, () => cached).outputs(b, ctx, 'blocks');
    expect(feats.blocks?.length).toBe(2);
    expect(feats.last?.shape).toEqual([4, 17, 24]);
    tf.dispose([cached, live.logits, fromCache.logits, feats.logits, ...(feats.blocks ?? []), b.x, b.y, b.query]);
    queries.dispose();
    teacher.dispose();
  });
});

describe('loss composition', () => {
  it.each([
    ['none', { ce: 1, pool: 1 }],
    ['kd', { ce: 0.5, kd: 0.5, pool: 1 }],
    ['dkd', { ce: 0.5, kd: 0.5, pool: 1 }],
    ['fitnets', { ce: 0.5, kd: 0.5, pool: 1, feature: 0.1 }],
    ['reviewkd', { ce: 0.5, kd: 0.5, pool: 1, feature: 0.2 }],
    ['deit', { ce: 0.5, kd: 0.5, pool: 1 }],
    ['kdp', { ce: 0.5, kd: 0.5, pool: 1 }],
  ] as const)('%s: total = Σ weight·term with the reference weights', (key, weights) => {
    const teacher = clModel(T.backbone, 3, 'l2p');
    const method = createKdMethod(key, kdArgs());
    const student = new DistillationStudent(clModel(S.backbone, 0, 'l2p'), method, new LiveTeacher(teacher));
    const b = batch();
    tf.tidy(() => {
      const res = student.loss(b, tasks[0]!);
      const v = (k: string) => res.terms[k]!.dataSync()[0] as number;
      const expected = Object.entries(weights).reduce((s, [k, w]) => s + w * v(k), 0);
      expect(res.total.dataSync()[0]).toBeCloseTo(expected, 5);
      expect(v('pool')).toBeGreaterThan(0); // L2P key loss is part of every objective
      if (key === 'dkd') expect(v('kd')).toBeCloseTo(v('tckd') + 4 * v('nckd'), 5);
    });
    tf.dispose([b.x, b.y, b.query]);
    student.dispose();
    teacher.dispose();
  });

  it('KD parts persist across tasks (not reset at a task boundary) and keep training', () => {
    const teacher = clModel(T.backbone, 3);
    const method = createKdMethod('kdp', kdArgs());
    const student = new DistillationStudent(clModel(S.backbone, 0), method, new LiveTeacher(teacher));
    const opt = taskOptimizer(1e-2);
    const vars = student.trainableVariables();
    const b0 = batch(0);
    trainStep(student, vars, opt, b0, tasks[0]!);
    const afterTask0 = snapshot(method.trainableVariables());
    student.beforeTask(tasks[1]!);
    teacher.beforeTask(tasks[1]!);
    expect(sameValues(snapshot(method.trainableVariables()), afterTask0)).toBe(true);
    const b1 = batch(1);
    trainStep(student, student.trainableVariables(), opt, b1, tasks[1]!);
    expect(sameValues(snapshot(method.trainableVariables()), afterTask0)).toBe(false);
    tf.dispose([b0.x, b0.y, b0.query, b1.x, b1.y, b1.query]);
    opt.dispose();
    student.dispose();
    teacher.dispose();
  });
});

describe.each(kdMethodRegistry.keys())('KD method %s', (key) => {
  it('a student step leaks no tensors and trains only student prompts, head and KD parts', async () => {
    const teacher = clModel(T.backbone, 3);
    const method = createKdMethod(key, kdArgs());
    const student = new DistillationStudent(clModel(S.backbone, 0), method, new LiveTeacher(teacher));
    const b = batch();
    const vars = student.trainableVariables();
    const frozen = [...T.backbone.variables(), ...S.backbone.variables(), ...teacher.trainableVariables()];
    const frozenBefore = snapshot(frozen);
    const before = snapshot(vars);
    const kdBefore = snapshot(method.trainableVariables());
    const opt = taskOptimizer(1e-2);
    await expectNoTensorLeak(() => trainStep(student, vars, opt, b, tasks[0]!), { label: `${key} student step` });
    expect(sameValues(snapshot(frozen), frozenBefore)).toBe(true);
    expect(sameValues(snapshot(vars), before)).toBe(false);
    if (method.trainableVariables().length > 0) expect(sameValues(snapshot(method.trainableVariables()), kdBefore)).toBe(false);
    opt.dispose();
    tf.dispose([b.x, b.y, b.query]);
    student.dispose();
    teacher.dispose();
  });
});
