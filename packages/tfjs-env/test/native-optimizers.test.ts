import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ADAM_UPDATE_KERNEL, MOMENTUM_UPDATE_KERNEL, adam, adamUpdate, hasFusedKernels, momentum, momentumUpdate } from '@promptkd/core';
import { expectMatches, onCpu, rand } from './kernel-helpers.js';
import { nativeBuilt, vals, withNativeKernels, type Vals } from './native-helpers.js';

/** `steps` updates of two variables by `make()` on a fixed quadratic-plus-cubic loss; the variables' final values. */
function train(make: () => tf.Optimizer, init: Float32Array[], shapes: number[][], steps: number): Vals[] {
  const opt = make();
  const vars = init.map((d, i) => tf.variable(tf.tensor(d, shapes[i])));
  for (let s = 0; s < steps; s++) {
    opt.minimize(() => tf.add(tf.sum(tf.square(vars[0]!)), tf.sum(tf.div(tf.pow(vars[1]!, 3), 3))) as tf.Scalar, false, vars);
  }
  const out = vars.map(vals);
  opt.dispose();
  tf.dispose(vars);
  return out;
}

describe.skipIf(!nativeBuilt)('fused optimizer kernels (native) match the composed updates on the cpu backend', () => {
  const addon = withNativeKernels();

  it('registers the update kernels with the native ones', () => {
    expect(hasFusedKernels(ADAM_UPDATE_KERNEL, MOMENTUM_UPDATE_KERNEL)).toBe(true);
  });

  // 700k elements: above the size from which the update is split over threads.
  for (const n of [5, 700_000]) {
    it(`adamUpdate and momentumUpdate (plain, Nesterov) on ${n} elements`, async () => {
      const inputs = [rand([n]), rand([n]), tf.mul(rand([n]), 0.1), tf.abs(rand([n]))];
      const data = inputs.map((t) => t.dataSync().slice() as Float32Array);
      tf.dispose(inputs);
      const run = (): Vals[] =>
        tf.tidy(() => {
          const [x, g, m, v] = data.map((d) => tf.tensor1d(d));
          const attrs = { stepSize: 0.01 / (1 - 0.9 ** 3), beta1: 0.9, beta2: 0.999, sqrtC2: Math.sqrt(1 - 0.999 ** 3), epsilon: 1e-8 };
          const out = [...adamUpdate(x!, g!, m!, v!, attrs)];
          for (const nesterov of [false, true]) out.push(...momentumUpdate(x!, g!, m!, { learningRate: 0.05, momentum: 0.9, nesterov }));
          return out.map(vals);
        });
      const before = tf.memory().numTensors;
      const ours = run();
      expect(tf.memory().numTensors).toBe(before);
      const ref = await onCpu(run);
      ["x'", "m'", "v'", "x' (momentum)", "b'", "x' (Nesterov)", "b' (Nesterov)"].forEach((what, i) => expectMatches(ours[i]!, ref[i]!, `${what} n=${n}`));
    }, 300_000); // the cpu-backend reference and the element-wise comparison of 7 × 700k values: ~75 s on a loaded 2-core machine
  }

  it('FusedAdamOptimizer and FusedMomentumOptimizer train as tf.train.adam / tf.train.momentum on the cpu backend', async () => {
    const shapes = [[40, 30], [30]];
    const init = shapes.map((s) => rand(s)).map((t) => {
      const d = t.dataSync().slice() as Float32Array;
      t.dispose();
      return d;
    });
    const makers: Array<[string, () => tf.Optimizer, () => tf.Optimizer]> = [
      ['adam', () => adam(0.01, 0.9, 0.999, 1e-8), () => tf.train.adam(0.01, 0.9, 0.999, 1e-8)],
      ['momentum', () => momentum(0.01, 0.9), () => tf.train.momentum(0.01, 0.9)],
      ['nesterov', () => momentum(0.01, 0.9, true), () => tf.train.momentum(0.01, 0.9, true)],
    ];
    for (const [label, fused, stock] of makers) {
      const ours = train(fused, init, shapes, 5);
      const ref = await onCpu(() => train(stock, init, shapes, 5));
      ours.forEach((o, i) => expectMatches(o, ref[i]!, `${label} variable ${i}`));
    }
  });

  it('updates are the same bits for 1 and 2 threads', () => {
    const inputs = [rand([700_000]), rand([700_000]), rand([700_000]), tf.abs(rand([700_000]))];
    const attrs = { stepSize: 0.01, beta1: 0.9, beta2: 0.999, sqrtC2: 0.5, epsilon: 1e-8 };
    const once = (threads: number): Float32Array[] => {
      addon().setThreads(threads);
      return tf.tidy(() => adamUpdate(inputs[0]!, inputs[1]!, inputs[2]!, inputs[3]!, attrs).map((t) => t.dataSync() as Float32Array));
    };
    const one = once(1);
    const two = once(2);
    one.forEach((a, i) => expect(Buffer.from(a.buffer).equals(Buffer.from(two[i]!.buffer))).toBe(true));
    tf.dispose(inputs);
  });
});
