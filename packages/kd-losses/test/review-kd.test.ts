import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, ShapeError } from '@promptkd/core';
import { checkGradients, describeBackends, expectNoTensorLeak, useBackend } from '@promptkd/testing';
import { type AbfParams, type ReviewKdParams, createReviewKdModules, reviewKdFuse, reviewKdLoss } from '@promptkd/kd-losses';
import { type Nested, expectGradient, expectValue, flat, loadCase, num, torchLinear } from './golden.js';

type LinearJson = { weight_out_in: Nested; bias: Nested };
interface AbfJson {
  proj1: LinearJson;
  norm1: { weight: Nested; bias: Nested };
  gate?: LinearJson;
  proj2: LinearJson;
}

const c = loadCase('kd-losses-extra.json', 'review_kd');
const abfJson = c.abfs as AbfJson[];

/** Flattened list of every ABF parameter (our layout) with the fixture gradient in the same layout. */
function parameterList(): { tensor: tf.Tensor; grad: number[]; label: string }[] {
  const grads = c.grad_abfs as AbfJson[];
  const out: { tensor: tf.Tensor; grad: number[]; label: string }[] = [];
  abfJson.forEach((abf, l) => {
    const g = grads[l] as AbfJson;
    for (const part of ['proj1', 'gate', 'proj2'] as const) {
      const p = abf[part];
      const gp = g[part];
      if (!p || !gp) continue;
      const { weight, bias } = torchLinear(p as unknown as Record<string, unknown>);
      const gwT = tf.tidy(() => tf.transpose(tf.tensor(gp.weight_out_in as number[][])).dataSync());
      out.push({ tensor: weight, grad: Array.from(gwT), label: `abfs.${l}.${part}.weight` });
      out.push({ tensor: bias, grad: flat(gp.bias), label: `abfs.${l}.${part}.bias` });
    }
    out.push({ tensor: tf.tensor1d(flat(abf.norm1.weight)), grad: flat(g.norm1.weight), label: `abfs.${l}.norm1.weight` });
    out.push({ tensor: tf.tensor1d(flat(abf.norm1.bias)), grad: flat(g.norm1.bias), label: `abfs.${l}.norm1.bias` });
  });
  return out;
}

/** Rebuilds ReviewKdParams from the flat list produced by parameterList (same order). */
function paramsFrom(ts: tf.Tensor[]): ReviewKdParams {
  let i = 0;
  const next = (): tf.Tensor => ts[i++] as tf.Tensor;
  const abfs: AbfParams[] = abfJson.map((abf) => {
    const proj1 = { weight: next() as tf.Tensor2D, bias: next() as tf.Tensor1D };
    const gate = abf.gate ? { weight: next() as tf.Tensor2D, bias: next() as tf.Tensor1D } : undefined;
    const proj2 = { weight: next() as tf.Tensor2D, bias: next() as tf.Tensor1D };
    const norm1 = { weight: next() as tf.Tensor1D, bias: next() as tf.Tensor1D };
    return { proj1, norm1, proj2, ...(gate ? { gate } : {}) };
  });
  return { abfs };
}

describeBackends(
  'reviewKdLoss',
  () => {
    it('matches numpy: fused outputs, loss, and gradients w.r.t. every student block and ABF parameter', () => {
      const student = (c.student_features as number[][][][]).map((x) => tf.tensor3d(x));
      const teacher = (c.teacher_features as number[][][][]).map((x) => tf.tensor3d(x));
      const params = parameterList();
      const levels = num(c, 'levels');
      const outs = reviewKdFuse(student, paramsFrom(params.map((p) => p.tensor)));
      outs.forEach((o, l) => expectGradient(o, (c.outputs as Nested[])[l] as Nested, `output ${l}`));
      const f = (...xs: tf.Tensor[]): tf.Scalar => reviewKdLoss(xs.slice(0, levels), teacher, paramsFrom(xs.slice(levels)));
      const xs = [...student, ...params.map((p) => p.tensor)];
      expectValue(f(...xs), num(c, 'loss'), 'loss');
      const grads = tf.grads(f)(xs);
      student.forEach((_, l) => expectGradient(grads[l] as tf.Tensor, (c.grad_student_features as Nested[])[l] as Nested, `grad student block ${l}`));
      params.forEach((p, k) => expectGradient(grads[levels + k] as tf.Tensor, p.grad, `grad ${p.label}`));
      tf.dispose([student, teacher, params.map((p) => p.tensor), outs, grads]);
    });
  },
  ['wasm', 'cpu'],
);

describe('reviewKd modules', () => {
  it('names every variable, has no gate on the top level, and trains without leaks', async () => {
    const m = createReviewKdModules({ studentDim: 4, teacherDim: 6, levels: 3, seed: 7 });
    const names = [...m.namedVariables().keys()];
    expect(names).toContain('reviewKd.abfs.0.gate.weight');
    expect(names).toContain('reviewKd.abfs.2.proj2.bias');
    expect(names).not.toContain('reviewKd.abfs.2.gate.weight');
    expect(names).toHaveLength(3 * 8 - 2);
    expect(m.abfs[0]?.gate?.weight.shape).toEqual([8, 2]);
    const s = [0, 1, 2].map((i) => tf.randomNormal([2, 5, 4], 0, 1, 'float32', i));
    const t = [0, 1, 2, 3].map((i) => tf.randomNormal([2, 5, 6], 0, 1, 'float32', 10 + i));
    await expectNoTensorLeak(() => {
      const { value, grads } = tf.variableGrads(() => reviewKdLoss(s, t, m), m.trainableVariables());
      expect(Object.keys(grads)).toHaveLength(names.length);
      tf.dispose([value, grads]);
    });
    tf.dispose([s, t]);
    m.dispose();
  });

  it('validates feature counts, shapes and gate placement', () => {
    const m = createReviewKdModules({ studentDim: 4, teacherDim: 6, levels: 2 });
    const s = [tf.zeros([1, 3, 4]), tf.zeros([1, 3, 4])];
    expect(() => reviewKdLoss(s.slice(0, 1), [tf.zeros([1, 3, 6]), tf.zeros([1, 3, 6])], m)).toThrow(ShapeError);
    expect(() => reviewKdLoss(s, [tf.zeros([1, 3, 6])], m)).toThrow(/at least 2 teacher/);
    expect(() => reviewKdLoss(s, [tf.zeros([1, 3, 5]), tf.zeros([1, 3, 5])], m)).toThrow(ShapeError);
    expect(() => reviewKdLoss([tf.zeros([1, 3, 5]), tf.zeros([1, 3, 5])], [tf.zeros([1, 3, 6]), tf.zeros([1, 3, 6])], m)).toThrow(ShapeError);
    const bad = { abfs: [m.abfs[1] as AbfParams, m.abfs[1] as AbfParams] };
    expect(() => reviewKdFuse(s, bad)).toThrow(ConfigError);
    m.dispose();
  });
});

describe('reviewKd: finite differences (cpu)', () => {
  useBackend('cpu');
  it('gradients w.r.t. the student blocks and the ABF variables match central differences', () => {
    const m = createReviewKdModules({ studentDim: 3, teacherDim: 2, levels: 2, seed: 5 });
    const s = [0, 1].map((i) => tf.randomNormal([1, 2, 3], 0, 1, 'float32', 20 + i));
    const t = [0, 1].map((i) => tf.randomNormal([1, 2, 2], 0, 1, 'float32', 30 + i));
    const vars = m.trainableVariables();
    const names = [...m.namedVariables().keys()];
    const f = (...xs: tf.Tensor[]): tf.Scalar => {
      const map = new Map(names.map((n, i) => [n, xs[2 + i] as tf.Tensor]));
      const get = (n: string): tf.Tensor => map.get(`reviewKd.abfs.${n}`) as tf.Tensor;
      const lin = (l: number, p: string) => ({ weight: get(`${l}.${p}.weight`) as tf.Tensor2D, bias: get(`${l}.${p}.bias`) as tf.Tensor1D });
      const params: ReviewKdParams = {
        abfs: [
          { proj1: lin(0, 'proj1'), norm1: lin(0, 'norm1') as unknown as AbfParams['norm1'], gate: lin(0, 'gate'), proj2: lin(0, 'proj2') },
          { proj1: lin(1, 'proj1'), norm1: lin(1, 'norm1') as unknown as AbfParams['norm1'], proj2: lin(1, 'proj2') },
        ],
      };
      return reviewKdLoss(xs.slice(0, 2), t, params);
    };
    // eps 2e-3: LayerNorm over 3 features is curved enough that eps 1e-2 adds O(eps²) truncation error
    const copies = vars.map((v) => v.clone());
    checkGradients(f, [...s, ...copies], { eps: 2e-3 });
    tf.dispose([s, t, copies]);
    m.dispose();
  });
});
