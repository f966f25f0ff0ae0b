import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { checkGradients, useBackend } from '@promptkd/testing';
import { ReprogramPad } from '@promptkd/visual-prompt';

// Hand-derived values for y = zeroPad(x) + tanh(W ⊙ M) (Elsayed et al., ICLR 2019).
describe('reprogramPad (Elsayed et al., the contributed example)', () => {
  it('zero-initialised ring is 0, the centre is the image, and the centre of W gets no gradient', () => {
    const p = new ReprogramPad({ inputSize: 2, outputSize: 4, channels: 1 });
    const x = tf.tensor4d([1, 2, 3, 4], [1, 2, 2, 1]);
    const y = p.apply(x);
    expect(y.reshape([4, 4]).arraySync()).toEqual([
      [0, 0, 0, 0],
      [0, 1, 2, 0],
      [0, 3, 4, 0],
      [0, 0, 0, 0],
    ]);
    const w = p.namedVariables().get('program') as tf.Variable;
    const up = tf.randomNormal([1, 4, 4, 1], 0, 1, 'float32', 2);
    const { grads, value } = tf.variableGrads(() => tf.sum(tf.mul(p.apply(x), up)) as tf.Scalar, [w]);
    const g = (grads[w.name] as tf.Tensor).reshape([4, 4]).arraySync() as number[][];
    expect([g[1]?.[1], g[1]?.[2], g[2]?.[1], g[2]?.[2]].map((v) => Math.abs(v as number))).toEqual([0, 0, 0, 0]);
    // tanh'(0) = 1: ring gradient equals the upstream
    const upv = up.reshape([4, 4]).arraySync() as number[][];
    expect(g[0]?.[0]).toBeCloseTo(upv[0]?.[0] as number, 6);
    tf.dispose([x, y, up, value, ...Object.values(grads)]);
    p.dispose();
  });
});

describe('reprogramPad gradient vs finite differences [cpu]', () => {
  useBackend('cpu');
  it('matches central differences for a random W', () => {
    const p = new ReprogramPad({ inputSize: 2, outputSize: 4, channels: 1 });
    const w = p.namedVariables().get('program') as tf.Variable;
    const x = tf.randomNormal([1, 2, 2, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
    const up = tf.randomNormal([1, 4, 4, 1], 0, 1, 'float32', 2);
    const w0 = tf.randomNormal([4, 4, 1], 0, 1, 'float32', 3);
    // the ring as a function of W: tanh(W ⊙ M), M taken from the prompt
    const mask = p.pattern().mask;
    checkGradients((ww) => tf.sum(tf.mul(tf.tanh(tf.mul(ww as tf.Tensor, mask)), up.reshape([4, 4, 1]))) as tf.Scalar, [w0]);
    // and the prompt computes exactly that function
    w.assign(w0);
    const y = p.apply(x);
    const ring = tf.tanh(tf.mul(w0, mask));
    const centre = tf.pad(x.reshape([2, 2, 1]), [[1, 1], [1, 1], [0, 0]]);
    expect(Array.from(y.dataSync())).toEqual(Array.from(tf.add(ring, centre).dataSync()));
    tf.dispose([x, up, w0, mask, y, ring, centre]);
    p.dispose();
  });
});
