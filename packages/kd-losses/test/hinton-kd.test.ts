import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, ShapeError } from '@promptkd/core';
import { checkGradients, describeBackends, useBackend } from '@promptkd/testing';
import { hintonKd, maskedCrossEntropy } from '@promptkd/kd-losses';
import { expectGradient, expectValue, labels, loadCase, num, tensor } from './golden.js';

describeBackends(
  'hintonKd',
  () => {
    it('matches PyTorch: (1−α)·CE + α·τ²·KL over all columns', () => {
      const c = loadCase('kd-losses.json', 'hinton_kd');
      const teacher = tensor(c, 'teacher');
      const y = labels(c);
      const f = (s: tf.Tensor): tf.Scalar =>
        hintonKd({ studentLogits: s, teacherLogits: teacher, labels: y }, { alpha: num(c, 'alpha'), temperature: num(c, 'temperature') });
      const student = tensor(c, 'student');
      expectValue(f(student), num(c, 'loss'), 'loss');
      const [g] = tf.grads(f)([student]);
      expectGradient(g as tf.Tensor, c.grad_student as number[][], 'grad_student');
      tf.dispose([teacher, y, student, g]);
    });

    describe('column range [lo, hi) (numpy golden)', () => {
      const c = loadCase('kd-losses-extra.json', 'hinton_columns');
      const columns = { lo: num(c, 'lo'), hi: num(c, 'hi') };
      for (const teacherKey of ['teacher', 'teacher_full']) {
        it(`matches with the teacher given as '${teacherKey}'; columns outside get exactly zero gradient`, () => {
          const teacher = tensor(c, teacherKey);
          const y = labels(c);
          const f = (s: tf.Tensor): tf.Scalar =>
            hintonKd({ studentLogits: s, teacherLogits: teacher, labels: y }, { alpha: num(c, 'alpha'), temperature: num(c, 'temperature'), columns });
          const student = tensor(c, 'student');
          expectValue(f(student), num(c, 'loss'), 'loss');
          const [g] = tf.grads(f)([student]);
          expectGradient(g as tf.Tensor, c.grad_student as number[][], 'grad_student');
          const outside = tf.tidy(() => tf.concat([tf.slice(g as tf.Tensor2D, [0, 0], [-1, columns.lo]), tf.slice(g as tf.Tensor2D, [0, columns.hi], [-1, -1])], 1));
          expect(Array.from(outside.dataSync()).every((v) => v === 0)).toBe(true);
          tf.dispose([teacher, y, student, g, outside]);
        });
      }
    });

    it('α = 0 is plain (masked) cross-entropy and α = 1 ignores the labels', () => {
      const s = tf.tensor2d([[1, 2, 0.5, -1], [0, 1, 3, 2]]);
      const t = tf.tensor2d([[0, 1, 2, 3], [3, 2, 1, 0]]);
      const y = tf.tensor1d([1, 2], 'int32');
      const columns = { lo: 1, hi: 3 };
      const ce = maskedCrossEntropy(s, y, { columns }).dataSync()[0] as number;
      expect(hintonKd({ studentLogits: s, teacherLogits: t, labels: y }, { alpha: 0, temperature: 2, columns }).dataSync()[0]).toBeCloseTo(ce, 6);
      const a = hintonKd({ studentLogits: s, teacherLogits: t, labels: y }, { alpha: 1, temperature: 2, columns }).dataSync()[0] as number;
      const y2 = tf.tensor1d([2, 1], 'int32');
      const b = hintonKd({ studentLogits: s, teacherLogits: t, labels: y2 }, { alpha: 1, temperature: 2, columns }).dataSync()[0] as number;
      expect(a).toBe(b);
      tf.dispose([s, t, y, y2]);
    });
  },
  ['wasm', 'cpu'],
);

describe('hintonKd: finite differences and validation', () => {
  useBackend('cpu');
  it('gradient w.r.t. the student matches central differences', () => {
    const t = tf.tensor2d([[0, 1, 2, 3, 1], [3, 2, 1, 0, -1]]);
    const y = tf.tensor1d([2, 3], 'int32');
    const s = tf.tensor2d([[1, 2, 0.5, -1, 0], [0, 1, 3, 2, 1]]);
    checkGradients((x) => hintonKd({ studentLogits: x as tf.Tensor, teacherLogits: t, labels: y }, { alpha: 0.5, temperature: 2, columns: { lo: 1, hi: 4 } }), [s]);
    tf.dispose([s, t, y]);
  });

  it('rejects labels outside the range, mismatched teacher classes, a bad α and batch mismatch', () => {
    const s = tf.zeros([2, 5]);
    const t3 = tf.zeros([2, 3]);
    const ok = tf.tensor1d([1, 2], 'int32');
    const columns = { lo: 1, hi: 4 };
    expect(() => hintonKd({ studentLogits: s, teacherLogits: t3, labels: tf.tensor1d([0, 2], 'int32') }, { alpha: 0.5, temperature: 2, columns })).toThrow(/outside the distilled classes/);
    expect(() => hintonKd({ studentLogits: s, teacherLogits: tf.zeros([2, 2]), labels: ok }, { alpha: 0.5, temperature: 2, columns })).toThrow(/mismatched class counts/);
    expect(() => hintonKd({ studentLogits: s, teacherLogits: t3, labels: ok }, { alpha: 1.5, temperature: 2, columns })).toThrow(ConfigError);
    expect(() => hintonKd({ studentLogits: s, teacherLogits: tf.zeros([3, 3]), labels: ok }, { alpha: 0.5, temperature: 2, columns })).toThrow(ShapeError);
    expect(() => hintonKd({ studentLogits: s, teacherLogits: t3, labels: tf.tensor1d([1, 2]) }, { alpha: 0.5, temperature: 2, columns })).toThrow(/int32/);
  });
});
