import * as tf from '@tensorflow/tfjs';
import type { KdLossInput } from '@promptkd/core';
import { type AbfParams, type KdLossKey, type ReviewKdParams, getKdLoss } from '@promptkd/kd-losses';

// One sample problem per registered KD loss: used by the conformance test and by the browser equality test.

/**
 * One sample problem per registered loss: named input tensors, which of them must receive a (non-zero) gradient
 * and which must receive none, and how to call the registered function. A key without an entry here is a type
 * error (Record<KdLossKey, …>) and a test failure.
 */
export interface ConformanceCase {
  readonly tensors: () => Record<string, tf.Tensor>;
  readonly trainable: readonly string[];
  readonly frozen: readonly string[];
  /** Inputs the loss must not touch at all (tf.grads refuses: not connected to the output). */
  readonly unused?: readonly string[];
  readonly run: (t: Record<string, tf.Tensor>, labels: tf.Tensor1D) => tf.Scalar;
}

export const N = 3;
export const C = 6;
const columns = { lo: 2, hi: 5 };
export const rnd = (shape: number[], seed: number): tf.Tensor => tf.randomNormal(shape, 0, 1.5, 'float32', seed);
export const labelsFor = (): tf.Tensor1D => tf.tensor1d([2, 4, 3], 'int32');
export const T = (t: Record<string, tf.Tensor>, k: string): tf.Tensor => t[k] as tf.Tensor;
const logitInput = (t: Record<string, tf.Tensor>, labels: tf.Tensor1D): KdLossInput => ({
  student: { logits: T(t, 'student') },
  teacher: { logits: T(t, 'teacher') },
  labels,
});

export const cases: Record<KdLossKey, ConformanceCase> = {
  klDivergence: {
    tensors: () => ({ student: rnd([N, C], 1), teacher: rnd([N, C], 2) }),
    trainable: ['student'],
    frozen: ['teacher'],
    run: (t, y) => getKdLoss('klDivergence')(logitInput(t, y), { temperature: 4 }),
  },
  hinton: {
    tensors: () => ({ student: rnd([N, C], 3), teacher: rnd([N, columns.hi - columns.lo], 4) }),
    trainable: ['student'],
    frozen: ['teacher'],
    run: (t, y) => getKdLoss('hinton')(logitInput(t, y), { alpha: 0.5, temperature: 2, columns }),
  },
  dkd: {
    tensors: () => ({ student: rnd([N, C], 5), teacher: rnd([N, C], 6) }),
    trainable: ['student'],
    frozen: ['teacher'],
    run: (t, y) => getKdLoss('dkd')(logitInput(t, y), { alpha: 1, beta: 4, temperature: 4, columns, kdWeight: 0.5 }),
  },
  fitNets: {
    tensors: () => ({ student: rnd([N, 4, 3], 7), teacher: rnd([N, 4, 5], 8), weight: rnd([3, 5], 9), bias: rnd([5], 10) }),
    trainable: ['student', 'weight', 'bias'],
    frozen: ['teacher'],
    run: (t) =>
      getKdLoss('fitNets')(
        { student: { features: T(t, 'student') }, teacher: { features: T(t, 'teacher') } },
        { regressor: { weight: T(t, 'weight') as tf.Tensor2D, bias: T(t, 'bias') as tf.Tensor1D } },
      ),
  },
  featureMse: {
    tensors: () => ({ student: rnd([N, 4, 3], 11), teacher: rnd([N, 4, 3], 12) }),
    trainable: ['student'],
    frozen: ['teacher'],
    run: (t) => getKdLoss('featureMse')({ student: { features: T(t, 'student') }, teacher: { features: T(t, 'teacher') } }, {}),
  },
  reviewKd: {
    tensors: () => {
      const t: Record<string, tf.Tensor> = {};
      for (let l = 0; l < 2; l++) t[`s${l}`] = rnd([N, 4, 3], 20 + l);
      for (let l = 0; l < 3; l++) t[`t${l}`] = rnd([N, 4, 5], 30 + l);
      for (let l = 0; l < 2; l++) {
        t[`proj1w${l}`] = rnd([3, 3], 40 + l);
        t[`proj1b${l}`] = rnd([3], 42 + l);
        t[`normw${l}`] = tf.add(rnd([3], 44 + l), 1);
        t[`normb${l}`] = rnd([3], 46 + l);
        t[`proj2w${l}`] = rnd([3, 5], 48 + l);
        t[`proj2b${l}`] = rnd([5], 50 + l);
      }
      t.gatew0 = rnd([6, 2], 52);
      t.gateb0 = rnd([2], 53);
      return t;
    },
    trainable: ['s0', 's1', 'proj1w0', 'proj1b0', 'normw0', 'normb0', 'proj2w0', 'proj2b0', 'gatew0', 'gateb0', 'proj1w1', 'proj2w1'],
    frozen: ['t1', 't2'],
    unused: ['t0'], // only the last L = 2 of the 3 teacher blocks are distilled
    run: (t) => {
      const abf = (l: number): AbfParams => ({
        proj1: { weight: T(t, `proj1w${l}`) as tf.Tensor2D, bias: T(t, `proj1b${l}`) as tf.Tensor1D },
        norm1: { weight: T(t, `normw${l}`) as tf.Tensor1D, bias: T(t, `normb${l}`) as tf.Tensor1D },
        proj2: { weight: T(t, `proj2w${l}`) as tf.Tensor2D, bias: T(t, `proj2b${l}`) as tf.Tensor1D },
        ...(l === 0 ? { gate: { weight: T(t, 'gatew0') as tf.Tensor2D, bias: T(t, 'gateb0') as tf.Tensor1D } } : {}),
      });
      const modules: ReviewKdParams = { abfs: [abf(0), abf(1)] };
      return getKdLoss('reviewKd')(
        {
          student: { 'blocks.0': T(t, 's0'), 'blocks.1': T(t, 's1') },
          teacher: { 'blocks.0': T(t, 't0'), 'blocks.1': T(t, 't1'), 'blocks.2': T(t, 't2') },
        },
        { modules },
      );
    },
  },
  distillationToken: {
    tensors: () => ({ kd: rnd([N, C], 60), cls: rnd([N, C], 61), teacher: rnd([N, columns.hi - columns.lo], 62) }),
    trainable: ['kd'],
    frozen: ['teacher'],
    unused: ['cls'], // the CLS head is trained by CE only
    run: (t) =>
      getKdLoss('distillationToken')(
        { student: { kdLogits: T(t, 'kd'), logits: T(t, 'cls') }, teacher: { logits: T(t, 'teacher') } },
        { temperature: 2, columns },
      ),
  },
};

