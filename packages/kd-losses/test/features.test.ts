import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ShapeError } from '@promptkd/core';
import { checkGradients, describeBackends, expectNoTensorLeak, useBackend } from '@promptkd/testing';
import { createFitNetsRegressor, featureMse, fitNetsLoss } from '@promptkd/kd-losses';
import { expectGradient, expectValue, loadCase, num, tensor, torchLinear } from './golden.js';

describeBackends(
  'fitNetsLoss',
  () => {
    it('matches PyTorch: loss and gradients w.r.t. student features, weight and bias', () => {
      const c = loadCase('kd-losses.json', 'fitnets_mse');
      const fs = tensor(c, 'student_features');
      const ft = tensor(c, 'teacher_features');
      const { weight, bias } = torchLinear(c);
      const f = (s: tf.Tensor, w: tf.Tensor, b: tf.Tensor): tf.Scalar =>
        fitNetsLoss(s, ft, { weight: w as tf.Tensor2D, bias: b as tf.Tensor1D });
      expectValue(f(fs, weight, bias), num(c, 'loss'), 'loss');
      const [gs, gw, gb] = tf.grads(f)([fs, weight, bias]) as [tf.Tensor, tf.Tensor, tf.Tensor];
      expectGradient(gs, c.grad_student_features as number[][], 'grad_student_features');
      // our weight is [in, out]; the fixture's gradient is PyTorch [out, in]
      const gwTorch = tf.transpose(gw);
      expectGradient(gwTorch, c.grad_weight as number[][], 'grad_weight');
      expectGradient(gb, c.grad_bias as number[], 'grad_bias');
      tf.dispose([fs, ft, weight, bias, gs, gw, gb, gwTorch]);
    });

    it('works on token features [N, T, D] and the regressor trains through tf.variableGrads', async () => {
      const reg = createFitNetsRegressor({ studentDim: 4, teacherDim: 6, seed: 3 });
      expect([...reg.namedVariables().keys()]).toEqual(['fitnets.regressor.weight', 'fitnets.regressor.bias']);
      expect(reg.weight.shape).toEqual([4, 6]);
      const bound = 1 / Math.sqrt(4);
      expect(Math.max(...Array.from(reg.weight.dataSync()).map(Math.abs))).toBeLessThanOrEqual(bound);
      const s = tf.randomNormal([2, 3, 4], 0, 1, 'float32', 1);
      const t = tf.randomNormal([2, 3, 6], 0, 1, 'float32', 2);
      await expectNoTensorLeak(() => {
        const { value, grads } = tf.variableGrads(() => fitNetsLoss(s, t, reg), reg.trainableVariables());
        expect(Object.keys(grads)).toHaveLength(2);
        tf.dispose([value, grads]);
      });
      reg.dispose();
      tf.dispose([s, t]);
    });
  },
  ['wasm', 'cpu'],
);

describeBackends(
  'featureMse',
  () => {
    it('matches numpy: mean squared error and its gradient, teacher detached', () => {
      const c = loadCase('kd-losses-extra.json', 'feature_mse');
      const s = tensor(c, 'student');
      const t = tensor(c, 'teacher');
      expectValue(featureMse(s, t), num(c, 'loss'), 'loss');
      const [gs, gt] = tf.grads((a: tf.Tensor, b: tf.Tensor) => featureMse(a, b))([s, t]) as [tf.Tensor, tf.Tensor];
      expectGradient(gs, c.grad_student as number[][][], 'grad_student');
      expect(Array.from(gt.dataSync()).every((v) => v === 0)).toBe(true);
      tf.dispose([s, t, gs, gt]);
    });
  },
  ['wasm', 'cpu'],
);

describe('feature losses: finite differences and validation', () => {
  useBackend('cpu');
  it('FitNets gradients match central differences', () => {
    const s = tf.tensor3d([[[0.1, -0.2, 0.3], [0.5, 0.2, -1]]]);
    const t = tf.tensor3d([[[1, 0], [0, -1]]]);
    const w = tf.tensor2d([[0.1, 0.2], [-0.3, 0.4], [0.5, -0.6]]);
    const b = tf.tensor1d([0.05, -0.05]);
    checkGradients((x, ww, bb) => fitNetsLoss(x as tf.Tensor, t, { weight: ww as tf.Tensor2D, bias: bb as tf.Tensor1D }), [s, w, b]);
    tf.dispose([s, t, w, b]);
  });

  it('feature MSE gradient matches central differences', () => {
    const s = tf.tensor3d([[[0.1, -0.2], [0.5, 0.2]], [[1, 2], [-1, 0]]]);
    const t = tf.tensor3d([[[1, 0], [0, -1]], [[0.5, 0.5], [0, 0]]]);
    checkGradients((x) => featureMse(x as tf.Tensor, t), [s]);
    tf.dispose([s, t]);
  });

  it('rejects mismatched widths and token counts', () => {
    const reg = createFitNetsRegressor({ studentDim: 3, teacherDim: 2 });
    expect(() => fitNetsLoss(tf.zeros([1, 2, 4]), tf.zeros([1, 2, 2]), reg)).toThrow(ShapeError);
    expect(() => fitNetsLoss(tf.zeros([1, 2, 3]), tf.zeros([1, 3, 2]), reg)).toThrow(/same leading shape/);
    expect(() => featureMse(tf.zeros([1, 2, 3]), tf.zeros([1, 2, 4]))).toThrow(ShapeError);
    expect(() => featureMse(tf.zeros([0, 3]), tf.zeros([0, 3]))).toThrow(/empty/);
    reg.dispose();
  });
});
