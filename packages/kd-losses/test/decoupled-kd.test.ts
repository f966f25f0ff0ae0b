import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import { checkGradients, describeBackends, useBackend } from '@promptkd/testing';
import { decoupledKd, decoupledKdParts } from '@promptkd/kd-losses';
import { expectGradient, expectValue, labels, loadCase, num, tensor } from './golden.js';

describeBackends(
  'decoupledKd',
  () => {
    it('matches PyTorch: TCKD, NCKD, α·TCKD + β·NCKD and its gradient', () => {
      const c = loadCase('kd-losses.json', 'dkd');
      const teacher = tensor(c, 'teacher');
      const y = labels(c);
      const student = tensor(c, 'student');
      const input = { studentLogits: student, teacherLogits: teacher, labels: y };
      const { tckd, nckd } = decoupledKdParts(input, { temperature: num(c, 'temperature') });
      expectValue(tckd, num(c, 'tckd'), 'tckd');
      expectValue(nckd, num(c, 'nckd'), 'nckd');
      const cfg = { alpha: num(c, 'alpha'), beta: num(c, 'beta'), temperature: num(c, 'temperature') };
      const f = (s: tf.Tensor): tf.Scalar => decoupledKd({ studentLogits: s, teacherLogits: teacher, labels: y }, cfg);
      expectValue(f(student), num(c, 'loss'), 'loss');
      const [g] = tf.grads(f)([student]);
      expectGradient(g as tf.Tensor, c.grad_student as number[][], 'grad_student');
      tf.dispose([teacher, y, student, g, tckd, nckd]);
    });

    it('matches numpy on a column range with targets re-indexed and the CE mix (KDP baseline)', () => {
      const c = loadCase('kd-losses-extra.json', 'dkd_columns');
      const teacher = tensor(c, 'teacher');
      const y = labels(c);
      const student = tensor(c, 'student');
      const columns = { lo: num(c, 'lo'), hi: num(c, 'hi') };
      const { tckd, nckd } = decoupledKdParts({ studentLogits: student, teacherLogits: teacher, labels: y }, { temperature: num(c, 'temperature'), columns });
      expectValue(tckd, num(c, 'tckd'), 'tckd');
      expectValue(nckd, num(c, 'nckd'), 'nckd');
      const cfg = { alpha: num(c, 'alpha'), beta: num(c, 'beta'), temperature: num(c, 'temperature'), columns, kdWeight: num(c, 'kd_weight') };
      const f = (s: tf.Tensor): tf.Scalar => decoupledKd({ studentLogits: s, teacherLogits: teacher, labels: y }, cfg);
      expectValue(f(student), num(c, 'loss'), 'loss');
      const [g] = tf.grads(f)([student]);
      expectGradient(g as tf.Tensor, c.grad_student as number[][], 'grad_student');
      tf.dispose([teacher, y, student, g, tckd, nckd]);
    });

    it('stays finite when the target probability saturates (log(1 − p_t) by log-sum-exp)', () => {
      const s = tf.tensor2d([[200, 0, 0]]);
      const t = tf.tensor2d([[0, 200, 0]]);
      const y = tf.tensor1d([0], 'int32');
      const v = decoupledKd({ studentLogits: s, teacherLogits: t, labels: y }, { alpha: 1, beta: 8, temperature: 1 }).dataSync()[0] as number;
      expect(Number.isFinite(v)).toBe(true);
      tf.dispose([s, t, y]);
    });
  },
  ['wasm', 'cpu'],
);

describe('decoupledKd: finite differences and validation', () => {
  useBackend('cpu');
  it('gradient w.r.t. the student matches central differences', () => {
    const t = tf.tensor2d([[0, 1, 2, 3, 1], [3, 2, 1, 0, -1]]);
    const y = tf.tensor1d([2, 3], 'int32');
    const s = tf.tensor2d([[1, 2, 0.5, -1, 0], [0, 1, 3, 2, 1]]);
    checkGradients(
      (x) => decoupledKd({ studentLogits: x as tf.Tensor, teacherLogits: t, labels: y }, { alpha: 1, beta: 4, temperature: 4, columns: { lo: 1, hi: 5 }, kdWeight: 0.5 }),
      [s],
    );
    tf.dispose([s, t, y]);
  });

  it('needs at least two classes and non-negative weights', () => {
    const s = tf.zeros([1, 3]);
    const y = tf.tensor1d([1], 'int32');
    expect(() => decoupledKd({ studentLogits: s, teacherLogits: s, labels: y }, { alpha: 1, beta: 8, temperature: 4, columns: { lo: 1, hi: 2 } })).toThrow(ConfigError);
    expect(() => decoupledKd({ studentLogits: s, teacherLogits: s, labels: y }, { alpha: -1, beta: 8, temperature: 4 })).toThrow(/alpha/);
  });
});
