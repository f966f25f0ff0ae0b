import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, ShapeError } from '@promptkd/core';
import { checkGradients, describeBackends, useBackend } from '@promptkd/testing';
import { klDivergence } from '@promptkd/kd-losses';
import { expectGradient, expectValue, loadCase, num, tensor } from './golden.js';

describeBackends(
  'klDivergence',
  () => {
    describe('forward, target detached (PyTorch golden)', () => {
      const c = loadCase('kd-losses.json', 'kl_forward_target_detached');
      it('matches the loss and the gradient w.r.t. the student logits', () => {
        const student = tensor(c, 'logits');
        const target = tensor(c, 'target');
        const f = (s: tf.Tensor): tf.Scalar => klDivergence(s, target, { temperature: num(c, 'temperature') });
        const loss = f(student);
        expectValue(loss, num(c, 'loss'), 'loss');
        const [g] = tf.grads(f)([student]);
        expectGradient(g as tf.Tensor, c.grad_logits as number[][], 'grad_logits');
        tf.dispose([student, target, loss, g]);
      });

      it('gives the target a zero gradient by default', () => {
        const student = tensor(c, 'logits');
        const target = tensor(c, 'target');
        const [, gt] = tf.grads((s: tf.Tensor, t: tf.Tensor) => klDivergence(s, t, { temperature: 4 }))([student, target]);
        expect(Math.max(...Array.from((gt as tf.Tensor).dataSync()).map(Math.abs))).toBe(0);
        tf.dispose([student, target, gt]);
      });
    });

    describe('reversed, gradient through the target p (KiOP preservation term, PyTorch golden)', () => {
      const c = loadCase('kd-losses.json', 'kl_reversed_grad_through_target');
      const T = num(c, 'temperature');
      it("as direction 'reversed': student = prompted output p", () => {
        const sma = tensor(c, 'target');
        const host = tensor(c, 'logits');
        const f = (s: tf.Tensor): tf.Scalar => klDivergence(s, host, { temperature: T, direction: 'reversed' });
        expectValue(f(sma), num(c, 'loss'), 'loss');
        const [g] = tf.grads(f)([sma]);
        expectGradient(g as tf.Tensor, c.grad_target as number[][], 'grad_target');
        tf.dispose([sma, host, g]);
      });

      it('as the code writes it: forward with targetGradient: true', () => {
        const sma = tensor(c, 'target');
        const host = tensor(c, 'logits');
        const f = (t: tf.Tensor): tf.Scalar => klDivergence(host, t, { temperature: T, targetGradient: true });
        expectValue(f(sma), num(c, 'loss'), 'loss');
        const [g] = tf.grads(f)([sma]);
        expectGradient(g as tf.Tensor, c.grad_target as number[][], 'grad_target');
        tf.dispose([sma, host, g]);
      });
    });

    it("'sum' reduction is N times 'batchmean'", () => {
      const s = tf.tensor2d([[1, 2, 3], [0, -1, 2]]);
      const t = tf.tensor2d([[0, 1, 0], [2, 2, 1]]);
      const mean = klDivergence(s, t, { temperature: 2 }).dataSync()[0] as number;
      const sum = klDivergence(s, t, { temperature: 2, reduction: 'sum' }).dataSync()[0] as number;
      expect(sum).toBeCloseTo(2 * mean, 6);
      tf.dispose([s, t]);
    });

    it('is zero for identical logits at any temperature and finite for extreme logits', () => {
      const s = tf.tensor2d([[1000, -1000, 0], [3, 3, 3]]);
      for (const temperature of [1, 4, 20]) {
        expect(Math.abs(klDivergence(s, s, { temperature }).dataSync()[0] as number)).toBeLessThan(1e-5);
      }
      const t = tf.tensor2d([[-1000, 1000, 0], [0, 0, 50]]);
      const v = klDivergence(s, t, { temperature: 1 }).dataSync()[0] as number;
      expect(Number.isFinite(v)).toBe(true);
      tf.dispose([s, t]);
    });
  },
  ['wasm', 'cpu'],
);

describe('klDivergence: finite differences (cpu)', () => {
  useBackend('cpu');
  it('forward and reversed, both arguments with targetGradient', () => {
    const s = tf.tensor2d([[0.5, -1, 2, 0.1], [1, 0, -0.5, 0.3]]);
    const t = tf.tensor2d([[1, 0.2, -0.3, 0], [-1, 2, 0.5, 0.1]]);
    for (const direction of ['forward', 'reversed'] as const) {
      checkGradients((a, b) => klDivergence(a as tf.Tensor, b as tf.Tensor, { temperature: 2, direction, targetGradient: true }), [s, t]);
    }
    tf.dispose([s, t]);
  });
});

describe('klDivergence: validation', () => {
  const s = tf.tensor2d([[1, 2, 3]]);
  it('rejects mismatched class counts, wrong rank, an empty batch and a bad temperature', () => {
    expect(() => klDivergence(s, tf.tensor2d([[1, 2]]), { temperature: 1 })).toThrow(ShapeError);
    expect(() => klDivergence(s, tf.tensor2d([[1, 2]]), { temperature: 1 })).toThrow(/mismatched class counts/);
    expect(() => klDivergence(tf.tensor1d([1, 2, 3]), s, { temperature: 1 })).toThrow(/rank 2/);
    expect(() => klDivergence(tf.zeros([0, 3]), tf.zeros([0, 3]), { temperature: 1 })).toThrow(/empty/);
    expect(() => klDivergence(s, s, { temperature: 0 })).toThrow(ConfigError);
    expect(() => klDivergence(s, s, { temperature: 1, columns: { lo: 1, hi: 5 } })).toThrow(ShapeError);
  });
});
