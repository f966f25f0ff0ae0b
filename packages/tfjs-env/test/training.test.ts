import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { expectNoTensorLeak } from '@promptkd/testing';

// A small conv-BN-ReLU-pool-dense classifier trained with STOCK TF.js APIs on wasm.
describe('stock TF.js training on wasm', () => {
  afterAll(() => tf.disposeVariables());

  it('tf.train.sgd().minimize trains a conv-BN-relu-pool-dense net without leaking', async () => {
    expect(tf.getBackend()).toBe('wasm');
    const v = (shape: number[], seed: number, scale: number): tf.Variable =>
      tf.variable(tf.randomNormal(shape, 0, scale, 'float32', seed));
    const w1 = v([3, 3, 3, 8], 1, 0.3);
    const g1 = tf.variable(tf.ones([8]));
    const b1 = tf.variable(tf.zeros([8]));
    const w2 = v([3, 3, 8, 8], 2, 0.2);
    const wd = v([8, 4], 3, 0.3);
    const bd = tf.variable(tf.zeros([4]));
    const x = tf.randomNormal([4, 8, 8, 3], 0, 1, 'float32', 4);
    const labels = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 4);
    const loss = (): tf.Scalar => {
      let h = tf.conv2d(x as tf.Tensor4D, w1 as tf.Tensor4D, 1, 'same');
      const { mean, variance } = tf.moments(h, [0, 1, 2]);
      h = tf.batchNorm(h, mean, variance, b1, g1, 1e-5) as tf.Tensor4D;
      h = tf.maxPool(tf.relu(h), 2, 2, 'same');
      h = tf.relu(tf.conv2d(h, w2 as tf.Tensor4D, 2, 'same'));
      const logits = tf.add(tf.matMul(tf.mean(h, [1, 2]), wd), bd);
      return tf.losses.softmaxCrossEntropy(labels, logits);
    };
    const opt = tf.train.sgd(0.1);
    const step = (): number => {
      const l = opt.minimize(loss, true) as tf.Scalar;
      const value = l.dataSync()[0] as number;
      l.dispose();
      return value;
    };
    const l0 = step();
    const l1 = step();
    expect(l1).toBeLessThan(l0);
    await expectNoTensorLeak(step, { label: 'sgd step' });
    tf.dispose([w1, g1, b1, w2, wd, bd, x, labels]);
    opt.dispose();
  });

  it('tfjs-layers model.fit with Conv2D/BatchNorm/Dense layers trains without leaking', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 8, kernelSize: 3, padding: 'same' }),
        tf.layers.batchNormalization(),
        tf.layers.activation({ activation: 'relu' }),
        tf.layers.maxPooling2d({ poolSize: 2 }),
        tf.layers.conv2d({ filters: 8, kernelSize: 3, strides: 2, padding: 'same', activation: 'relu' }),
        tf.layers.globalAveragePooling2d({}),
        tf.layers.dense({ units: 4, activation: 'softmax' }),
      ],
    });
    const x = tf.randomNormal([4, 8, 8, 3], 0, 1, 'float32', 5);
    const y = tf.oneHot(tf.tensor1d([0, 1, 2, 3], 'int32'), 4);
    model.compile({ optimizer: tf.train.sgd(0.1), loss: 'categoricalCrossentropy' });
    const h = await model.fit(x, y, { epochs: 2, batchSize: 4, verbose: 0, shuffle: false });
    const losses = h.history.loss as number[];
    expect(losses).toHaveLength(2);
    expect(losses[1]).toBeLessThan(losses[0] as number);
    await expectNoTensorLeak(() => model.fit(x, y, { epochs: 1, batchSize: 4, verbose: 0 }), { label: 'model.fit' });
    model.dispose();
    tf.dispose([x, y]);
  });
});
