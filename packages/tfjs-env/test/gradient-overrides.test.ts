import * as tf from '@tensorflow/tfjs';
import { expect, it } from 'vitest';
import { describeBackends, expectClose } from '@promptkd/testing';
import { registerGradientOverrides, unregisterGradientOverrides } from '@promptkd/tfjs-env';

/** Gradient of Σ w ⊙ tile(x, reps) w.r.t. x and the number of kernels the gradient call runs. */
async function tileGrad(shape: number[], reps: number[]): Promise<{ values: Float32Array<ArrayBufferLike>; kernels: number }> {
  const x = tf.randomNormal(shape, 0, 1, 'float32', 1);
  const outShape = shape.map((d, i) => d * (reps[i] as number));
  const w = tf.randomNormal(outShape, 0, 1, 'float32', 2);
  let values: Float32Array<ArrayBufferLike> = new Float32Array();
  const prof = await tf.profile(() => {
    const g = tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.tile(t, reps), w)))(x);
    values = g.dataSync() as Float32Array;
    g.dispose();
  });
  tf.dispose([x, w]);
  return { values, kernels: prof.kernels.length };
}

describeBackends(
  'Tile gradient (sum over the replicas)',
  () => {
    it('equals tfjs’s gradient on ranks 1–4 and every reps pattern, with far fewer kernels', async () => {
      const cases: [number[], number[]][] = [
        [[5], [3]],
        [[2, 3], [4, 1]],
        [[2, 3], [1, 5]],
        [[1, 2, 8], [64, 1, 1]],
        [[2, 1, 3], [2, 5, 3]],
        [[1, 2, 2, 3], [3, 1, 2, 2]],
      ];
      for (const [shape, reps] of cases) {
        unregisterGradientOverrides();
        const stock = await tileGrad(shape, reps);
        registerGradientOverrides();
        const ours = await tileGrad(shape, reps);
        expectClose(ours.values, stock.values, { rtol: 1e-5, atol: 1e-5, label: `tile ${shape} × ${reps}` });
        if (reps.reduce((a, b) => a * b, 1) > 4) expect(ours.kernels, `${shape} × ${reps}`).toBeLessThan(stock.kernels);
      }
    });
  },
  ['wasm', 'cpu'],
);

it('registerGradientOverrides is idempotent and reports the kernels it replaced', () => {
  expect(registerGradientOverrides()).toEqual(['Tile']);
  expect(registerGradientOverrides()).toEqual(['Tile']);
});
