import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, ShapeError } from '@promptkd/core';
import { checkGradients, expectClose, expectNoTensorLeak, readFixture, useBackend } from '@promptkd/testing';
import { ExpansivePad, expansivePadOp, expansivePadding, ringMask } from '@promptkd/visual-prompt';

interface PadCase {
  n: number;
  m: number;
  pad_before: number;
  pad_after: number;
  x: number[][][][];
  theta: number[][][];
  y: number[][][][];
  upstream: number[][][][];
  grad_theta: number[][][];
}
const fixture = readFixture<{ cases: PadCase[] }>(import.meta.url, 'expansive-pad-prompt.json');

/** NCHW → NHWC. */
const nhwc = (a: number[][][][]): tf.Tensor4D => tf.transpose(tf.tensor4d(a), [0, 2, 3, 1]);
/** CHW → HWC. */
const hwc = (a: number[][][]): tf.Tensor3D => tf.transpose(tf.tensor3d(a), [1, 2, 0]);

describe('expansivePadding', () => {
  it.each([
    [32, 36, [2, 2]],
    [36, 128, [46, 46]],
    [128, 224, [48, 48]],
    [4, 7, [2, 1]],
  ])('%i → %i pads %j', (n, m, expected) => {
    expect(expansivePadding(n, m)).toEqual(expected);
  });
});

describe('ExpansivePad', () => {
  it('zero-initialised ring equals 0.5 exactly and the centre equals the input', () => {
    const p = new ExpansivePad({ inputSize: 32, outputSize: 36 });
    const x = tf.randomUniform([2, 32, 32, 3], -2, 2, 'float32', 7) as tf.Tensor4D;
    const y = p.apply(x);
    expect(y.shape).toEqual([2, 36, 36, 3]);
    const centre = y.slice([0, 2, 2, 0], [2, 32, 32, 3]);
    expect(Array.from(centre.dataSync())).toEqual(Array.from(x.dataSync()));
    const mask = ringMask(32, 36);
    const yv = y.dataSync();
    const mv = mask.dataSync();
    let ring = 0;
    for (let i = 0; i < yv.length; i++) {
      const pix = Math.floor(i / 3) % (36 * 36);
      if (mv[pix] === 1) {
        expect(yv[i]).toBe(0.5);
        ring++;
      }
    }
    expect(ring).toBe(2 * 816);
    // the mask is 0 exactly on the centred n×n window
    expect(tf.sum(mask).dataSync()[0]).toBe(36 * 36 - 32 * 32);
    expect(tf.sum(mask.slice([2, 2, 0], [32, 32, 1])).dataSync()[0]).toBe(0);
    tf.dispose([x, y, centre, mask]);
    p.dispose();
  });

  it('parameter counts: effective C(m²−n²), stored C·m²', () => {
    const p = new ExpansivePad({ inputSize: 36, outputSize: 128 });
    expect(p.parameterCount()).toEqual({ effective: 45264, stored: 3 * 128 * 128 });
    p.dispose();
  });

  it('only ring entries of θ get gradients (exactly zero in the centre)', () => {
    const p = new ExpansivePad({ inputSize: 4, outputSize: 8 });
    const x = tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 3) as tf.Tensor4D;
    const w = tf.randomNormal([2, 8, 8, 3], 0, 1, 'float32', 4);
    const { grads } = tf.variableGrads(() => tf.sum(tf.mul(p.apply(x), w)) as tf.Scalar, p.trainableVariables());
    const g = grads[p.theta.name] as tf.Tensor;
    expect(g.shape).toEqual([8, 8, 3]);
    const centre = g.slice([2, 2, 0], [4, 4, 3]).abs().max().dataSync()[0];
    expect(centre).toBe(0);
    const ring = tf.sub(g.abs(), 0).mul(ringMask(4, 8)).min().dataSync()[0];
    expect(ring).toBeGreaterThanOrEqual(0);
    // every ring entry gets a non-zero gradient for a generic upstream
    const nonzeroRing = tf.notEqual(g, 0).cast('float32').sum().dataSync()[0];
    expect(nonzeroRing).toBe(3 * (64 - 16));
    tf.dispose([x, w, g]);
    p.dispose();
  });

  it('rejects bad configs and inputs with typed errors', () => {
    expect(() => new ExpansivePad({ inputSize: 36, outputSize: 32 })).toThrow(ConfigError);
    expect(() => new ExpansivePad({ inputSize: 3.5, outputSize: 32 })).toThrow(/positive integer/);
    const p = new ExpansivePad({ inputSize: 4, outputSize: 8 });
    const x = tf.zeros([1, 5, 5, 3]) as tf.Tensor4D;
    expect(() => p.apply(x)).toThrow(ShapeError);
    x.dispose();
    p.dispose();
  });

  it('does not leak tensors in a training step', async () => {
    const p = new ExpansivePad({ inputSize: 4, outputSize: 8 });
    const x = tf.randomNormal([2, 4, 4, 3]) as tf.Tensor4D;
    const opt = tf.train.sgd(0.1);
    await expectNoTensorLeak(() => {
      tf.dispose(opt.minimize(() => tf.mean(tf.square(p.apply(x))) as tf.Scalar, true, p.trainableVariables()) ?? []);
    });
    opt.dispose();
    x.dispose();
    p.dispose();
  });

  for (const c of fixture.cases) {
    it(`matches the PyTorch golden output and θ-gradient (n=${c.n}, m=${c.m})`, () => {
      expect(expansivePadding(c.n, c.m)).toEqual([c.pad_before, c.pad_after]);
      const p = new ExpansivePad({ inputSize: c.n, outputSize: c.m });
      const theta = hwc(c.theta);
      p.theta.assign(theta);
      const x = nhwc(c.x);
      const up = nhwc(c.upstream);
      const y = p.apply(x);
      const yExpected = nhwc(c.y);
      expectClose(y.dataSync(), yExpected.dataSync(), { rtol: 1e-4, atol: 1e-6, label: 'y' });
      const { value, grads } = tf.variableGrads(() => tf.sum(tf.mul(p.apply(x), up)) as tf.Scalar, [p.theta]);
      const gExpected = hwc(c.grad_theta);
      expectClose((grads[p.theta.name] as tf.Tensor).dataSync(), gExpected.dataSync(), {
        rtol: 1e-4,
        atol: 1e-6,
        label: 'grad theta',
      });
      tf.dispose([theta, x, up, y, yExpected, value, gExpected, ...Object.values(grads)]);
      p.dispose();
    });
  }
});

describe('ExpansivePad gradient vs finite differences [cpu]', () => {
  useBackend('cpu');
  it('matches central differences', () => {
    const x = tf.randomNormal([1, 2, 2, 1], 0, 1, 'float32', 1) as tf.Tensor4D;
    const w = tf.randomNormal([1, 5, 5, 1], 0, 1, 'float32', 2);
    const theta0 = tf.randomNormal([5, 5, 1], 0, 1, 'float32', 3) as tf.Tensor3D;
    checkGradients(
      (xx, theta) => tf.sum(tf.mul(expansivePadOp(xx as tf.Tensor4D, theta as tf.Tensor3D), w)) as tf.Scalar,
      [x, theta0],
      { eps: 1e-2 },
    );
    // the class computes the same function
    const p = new ExpansivePad({ inputSize: 2, outputSize: 5, channels: 1 });
    p.theta.assign(theta0);
    const a = p.apply(x);
    const b = expansivePadOp(x, theta0);
    expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
    tf.dispose([x, w, theta0, a, b]);
    p.dispose();
  });
});
