import * as tf from '@tensorflow/tfjs';
import { describe, it } from 'vitest';
import { BatchNorm2d, ParamStore, VisionTransformer, adaptiveAvgPool2d, createContext, upsampleNearest2x } from '@promptkd/models';
import { checkGradients, useBackend } from '@promptkd/testing';

// Finite-difference checks of the compositions written here (float32 cpu backend, small shapes).
describe('gradients vs finite differences [cpu]', () => {
  useBackend('cpu');
  const weights = (shape: number[], seed: number) => tf.randomNormal(shape, 0, 1, 'float32', seed);

  it('adaptive average pooling (overlapping bins) and nearest ×2 upsampling', () => {
    const x = tf.randomUniform([1, 3, 5, 2], 0, 1, 'float32', 1);
    const c7 = weights([1, 7, 7, 2], 2);
    checkGradients((t) => tf.sum(tf.mul(adaptiveAvgPool2d(t as tf.Tensor4D, 7, 7), c7)), [x], { eps: 1e-2 });
    const c2 = weights([1, 6, 10, 2], 3);
    checkGradients((t) => tf.sum(tf.mul(upsampleNearest2x(t as tf.Tensor4D), c2)), [x]);
  });

  it('train-mode BatchNorm w.r.t. its input', () => {
    const store = new ParamStore();
    const bn = new BatchNorm2d(store, 'bn', 2);
    const x = tf.randomNormal([2, 3, 3, 2], 0, 1, 'float32', 4);
    const c = weights([2, 3, 3, 2], 5);
    const f = (t: tf.Tensor) => tf.sum(tf.mul(bn.apply(t as tf.Tensor4D, createContext({ training: true }, [], 'bn')), c)) as tf.Scalar;
    checkGradients(f, [x], { eps: 1e-2, atol: 5e-3 });
    store.dispose();
  });

  it('ViT logits w.r.t. prepended/appended prefixes and an extra token', () => {
    const m = new VisionTransformer({ imageSize: 8, patchSize: 4, dim: 8, depth: 2, heads: 2, numClasses: 3, seed: 2 });
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 6) as tf.Tensor4D;
    const c = weights([2, 3], 7);
    const f = (pk: tf.Tensor, pv: tf.Tensor, ak: tf.Tensor, tok: tf.Tensor) =>
      tf.sum(tf.mul(m.apply(x, { prefixes: [{ prepend: { key: pk, value: pv } }, { append: { key: ak, value: pv } }], extraTokens: tok }).logits, c)) as tf.Scalar;
    checkGradients(f as (...xs: tf.Tensor[]) => tf.Scalar, [weights([2, 2, 8], 8), weights([2, 2, 8], 9), weights([2, 2, 8], 10), weights([1, 1, 8], 11)], { eps: 1e-2, atol: 5e-3 });
    m.dispose();
  });
});
