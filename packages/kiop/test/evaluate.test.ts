import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { effectiveClasses, evaluatePredictions } from '@promptkd/kiop';

describe('evaluation diagnostics', () => {
  it('effectiveClasses is exp(entropy) of the prediction counts', () => {
    expect(effectiveClasses([10, 0, 0])).toBe(1);
    expect(effectiveClasses([5, 5])).toBeCloseTo(2, 12);
    expect(effectiveClasses([3, 3, 3, 3])).toBeCloseTo(4, 12);
    // p = (3/4, 1/4): H = −(3/4)ln(3/4) − (1/4)ln(1/4)
    expect(effectiveClasses([3, 1])).toBeCloseTo(Math.exp(-(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25))), 12);
    expect(effectiveClasses([])).toBeNaN();
  });

  it('evaluatePredictions counts the predicted classes next to the accuracy', async () => {
    const logits = tf.tensor2d([[1, 0, 0], [1, 0, 0], [0, 0, 1], [0, 1, 0], [1, 0, 0]]);
    const labels = [0, 1, 2, 1, 2];
    const data = function* () {
      for (const [a, b] of [[0, 3], [3, 5]] as const) {
        yield { x: tf.zeros([b - a, 2, 2, 3]) as tf.Tensor4D, y: tf.tensor1d(labels.slice(a, b), 'int32') };
      }
    };
    let row = 0;
    const before = tf.memory().numTensors;
    const r = await evaluatePredictions((x) => {
      const out = tf.slice(logits, [row, 0], [x.shape[0], 3]) as tf.Tensor2D;
      row += x.shape[0];
      return out;
    }, data);
    expect(tf.memory().numTensors).toBe(before);
    expect(r.accuracy).toBeCloseTo(3 / 5, 12);
    expect(r.predicted).toEqual([3, 1, 1]);
    logits.dispose();
  });
});
