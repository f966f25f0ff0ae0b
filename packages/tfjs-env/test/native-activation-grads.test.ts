import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { registerNativeKernels, unregisterNativeKernels } from '@promptkd/tfjs-env';
import { expectMatches, onCpu, rand } from './kernel-helpers.js';
import { nativeBuilt, vals, withNativeKernels, type Vals } from './native-helpers.js';

describe.skipIf(!nativeBuilt)('ReLU / LeakyReLU gradients (one native kernel) match the stock gradients on the cpu backend', () => {
  const addon = withNativeKernels();

  it('replaces the stock gradients while registered and restores them on unregister', () => {
    unregisterNativeKernels(); // the test setup may have registered them already
    const stock = [tf.getGradient('Relu'), tf.getGradient('LeakyRelu')];
    registerNativeKernels(addon());
    expect(tf.getGradient('Relu')).not.toBe(stock[0]);
    expect(tf.getGradient('LeakyRelu')).not.toBe(stock[1]);
    unregisterNativeKernels();
    expect([tf.getGradient('Relu'), tf.getGradient('LeakyRelu')]).toEqual(stock);
    registerNativeKernels(addon());
    expect(tf.getKernel('PromptkdReluGrad', 'wasm')).toBeDefined();
    expect(tf.getKernel('PromptkdLeakyReluGrad', 'wasm')).toBeDefined();
  });

  // [700, 1000]: above the size from which the gradient is split over threads.
  for (const shape of [[3, 5], [700, 1000]]) {
    it(`d/dx of Σ w·relu(x) and Σ w·leakyRelu(x, 0.2), shape [${shape}], with zeros and NaN`, async () => {
      const xs = tf.tidy(() => tf.mul(rand(shape), 3));
      const xd = xs.dataSync().slice() as Float32Array;
      xd[0] = 0;
      xd[1] = Number.NaN;
      xd[2] = -0;
      const wd = rand(shape);
      const w = wd.dataSync().slice() as Float32Array;
      tf.dispose([xs, wd]);
      const run = (): Vals[] =>
        tf.tidy(() => {
          const x = tf.tensor(xd, shape);
          const wt = tf.tensor(w, shape);
          return [
            vals(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.relu(t), wt)))(x)),
            vals(tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.leakyRelu(t, 0.2), wt)))(x)),
            vals(tf.leakyRelu(x, 0.2)),
          ];
        });
      const before = tf.memory().numTensors;
      const ours = run();
      expect(tf.memory().numTensors).toBe(before);
      const ref = await onCpu(run);
      ['relu grad', 'leakyRelu grad', 'leakyRelu'].forEach((what, i) => {
        expect(Number.isNaN(ours[i]!.values[1]), `${what}: NaN kept`).toBe(Number.isNaN(ref[i]!.values[1]));
        ours[i]!.values[1] = ref[i]!.values[1] = 0;
        expectMatches(ours[i]!, ref[i]!, `${what} [${shape}]`);
      });
    });
  }
});
