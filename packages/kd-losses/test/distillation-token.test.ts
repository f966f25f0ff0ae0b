import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { checkGradients, describeBackends, useBackend } from '@promptkd/testing';
import { distillationTokenKd, kdpStudentObjective, lossValues } from '@promptkd/kd-losses';
import { expectGradient, expectValue, labels, loadCase, num, tensor } from './golden.js';

const c = loadCase('kd-losses-extra.json', 'distillation_token');
const columns = { lo: num(c, 'lo'), hi: num(c, 'hi') };
const temperature = num(c, 'temperature');
const alpha = num(c, 'alpha');

describeBackends(
  'distillationTokenKd',
  () => {
    it('matches numpy: τ²·KL(teacher ‖ KD head) on [lo, hi), zero gradient outside', () => {
      const teacher = tensor(c, 'teacher');
      const kd = tensor(c, 'kd_logits');
      const f = (z: tf.Tensor): tf.Scalar => distillationTokenKd(z, teacher, { temperature, columns });
      expectValue(f(kd), num(c, 'kd'), 'kd');
      const [g] = tf.grads(f)([kd]);
      expectGradient(g as tf.Tensor, c.grad_kd_logits as number[][], 'grad_kd_logits');
      tf.dispose([teacher, kd, g]);
    });

    it('KDP student objective: CE trains only the CLS head, KD only the KD head', () => {
      const teacher = tensor(c, 'teacher');
      const kd = tensor(c, 'kd_logits');
      const cls = tensor(c, 'cls_logits');
      const y = labels(c);
      const r = kdpStudentObjective({ clsLogits: cls, kdLogits: kd, teacherLogits: teacher, labels: y }, { alpha, temperature, columns });
      const v = lossValues(r);
      expectValue(v.total, num(c, 'total'), 'total');
      expectValue(v.terms.ce as number, num(c, 'ce'), 'ce');
      expectValue(v.terms.kd as number, num(c, 'kd'), 'kd');
      tf.dispose([r.total, r.terms]);
      const f = (a: tf.Tensor, b: tf.Tensor): tf.Scalar =>
        kdpStudentObjective({ clsLogits: a, kdLogits: b, teacherLogits: teacher, labels: y }, { alpha, temperature, columns }).total;
      const [gCls, gKd] = tf.grads(f)([cls, kd]) as [tf.Tensor, tf.Tensor];
      expectGradient(gCls, c.grad_cls_logits as number[][], 'grad_cls_logits');
      const expectedKd = (c.grad_kd_logits as number[][]).map((row) => row.map((x) => alpha * x));
      expectGradient(gKd, expectedKd, 'grad_kd_logits (weighted by α)');
      tf.dispose([teacher, kd, cls, y, gCls, gKd]);
    });

    it('is zero when the KD head equals the teacher (any τ)', () => {
      const t = tf.tensor2d([[1, -2, 0.5], [3, 0, 1]]);
      const z = tf.concat([tf.zeros([2, 2]), t, tf.ones([2, 1])], 1);
      for (const tau of [1, 2, 7]) {
        expect(Math.abs(distillationTokenKd(z, t, { temperature: tau, columns: { lo: 2, hi: 5 } }).dataSync()[0] as number)).toBeLessThan(1e-6);
      }
      tf.dispose([t, z]);
    });
  },
  ['wasm', 'cpu'],
);

describe('distillationTokenKd: finite differences (cpu)', () => {
  useBackend('cpu');
  it('gradient w.r.t. the KD-head logits matches central differences', () => {
    const t = tf.tensor2d([[1, -2], [3, 0]]);
    const z = tf.tensor2d([[0.1, 0.2, -0.3, 0.4], [1, -1, 0.5, 0]]);
    checkGradients((x) => distillationTokenKd(x as tf.Tensor, t, { temperature: 2, columns: { lo: 1, hi: 3 } }), [z]);
    tf.dispose([t, z]);
  });
});
