import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { installLeanGradients, leanGradientsInstalled, uninstallLeanGradients } from '@promptkd/tfjs-env';
import { describeBackends } from '@promptkd/testing';

/** Runs `fn` with tfjs's own gradients, then restores the state found. */
function withStock<T>(fn: () => T): T {
  const was = leanGradientsInstalled();
  uninstallLeanGradients();
  try {
    return fn();
  } finally {
    if (was) installLeanGradients();
  }
}

function withLean<T>(fn: () => T): T {
  const was = leanGradientsInstalled();
  installLeanGradients();
  try {
    return fn();
  } finally {
    if (!was) uninstallLeanGradients();
  }
}

/** A small conv net: conv, affine, ReLU, a residual add (a tensor used twice), max-pool, a frozen teacher under the tape. */
function net() {
  const w1 = tf.variable(tf.randomNormal([3, 3, 2, 4], 0, 0.3, 'float32', 1)) as tf.Variable<tf.Rank.R4>;
  const w2 = tf.variable(tf.randomNormal([3, 3, 4, 4], 0, 0.3, 'float32', 2)) as tf.Variable<tf.Rank.R4>;
  const g = tf.variable(tf.randomNormal([4], 1, 0.1, 'float32', 3));
  const head = tf.variable(tf.randomNormal([4, 5], 0, 0.3, 'float32', 4)) as tf.Variable<tf.Rank.R2>;
  const teacher = tf.randomNormal([3, 3, 2, 5], 0, 0.3, 'float32', 5);
  const x = tf.randomNormal([6, 8, 8, 2], 0, 1, 'float32', 6);
  const vars = [w1, w2, g, head];
  const loss = (): tf.Scalar => {
    // The teacher branch runs under the tape but does not depend on the variables.
    const t = tf.mean(tf.relu(tf.conv2d(x as tf.Tensor4D, teacher as tf.Tensor4D, 1, 'same')), [1, 2]);
    const h1 = tf.relu(tf.mul(tf.conv2d(x as tf.Tensor4D, w1, 1, 'same'), g)) as tf.Tensor4D;
    const h2 = tf.add(h1, tf.conv2d(h1, w2, 1, 'same'));
    const p = tf.mean(tf.maxPool(h2 as tf.Tensor4D, 2, 2, 'valid'), [1, 2]);
    const logits = tf.matMul(p as tf.Tensor2D, head);
    return tf.add(tf.mean(tf.square(tf.sub(logits, t))), tf.mul(tf.sum(tf.square(w2)), 1e-3)) as tf.Scalar;
  };
  return { vars, loss, dispose: () => tf.dispose([...vars, teacher, x]) };
}

function gradsOf(n: ReturnType<typeof net>): Float32Array[] {
  const { value, grads } = tf.variableGrads(n.loss, n.vars);
  const out = [value, ...n.vars.map((v) => grads[v.name] as tf.Tensor)].map((t) => t.dataSync() as Float32Array);
  tf.dispose([value, ...Object.values(grads)]);
  return out;
}

describeBackends(
  'lean gradients',
  () => {
    afterAll(() => {
      installLeanGradients();
    });

    it('give exactly the gradients of tfjs, leave no tensor behind and peak lower', async () => {
      const n = net();
      try {
        const stock = withStock(() => gradsOf(n));
        const lean = withLean(() => gradsOf(n));
        expect(lean.length).toBe(stock.length);
        lean.forEach((g, i) => expect(Array.from(g)).toEqual(Array.from(stock[i] as Float32Array)));
        const before = tf.memory().numTensors;
        withLean(() => gradsOf(n));
        expect(tf.memory().numTensors).toBe(before);
        const peak = async (lean: boolean): Promise<number> => {
          const run = lean ? withLean : withStock;
          return (await tf.profile(() => run(() => void gradsOf(n)))).peakBytes;
        };
        const stockPeak = await peak(false);
        const leanPeak = await peak(true);
        expect(leanPeak).toBeLessThan(stockPeak);
        // Saving a tensor for the gradient runs no kernel (tfjs runs an Identity per saved tensor).
        const identities = async (lean: boolean): Promise<number> => {
          const run = lean ? withLean : withStock;
          return (await tf.profile(() => run(() => void gradsOf(n)))).kernels.filter((k) => k.name === 'Identity').length;
        };
        expect(await identities(true)).toBeLessThan((await identities(false)) - 10);
      } finally {
        n.dispose();
      }
    });

    it('keep a gradient that a gradient function passes through as is, and a saved tensor it returns', () => {
      const passThrough = tf.customGrad(((x: tf.Tensor) => ({ value: tf.mul(x, 2), gradFunc: (dy: tf.Tensor) => dy })) as unknown as Parameters<typeof tf.customGrad>[0]);
      const savedGrad = tf.customGrad(((x: tf.Tensor, save: tf.GradSaveFunc) => {
        const d = tf.mul(x, 3);
        save([d]);
        return { value: tf.mul(x, x), gradFunc: (_dy: tf.Tensor, saved: tf.Tensor[]) => saved[0] as tf.Tensor };
      }) as unknown as Parameters<typeof tf.customGrad>[0]);
      const x = tf.tensor1d([1, 2, 3]);
      const f = (t: tf.Tensor): tf.Scalar => tf.sum(tf.mul(passThrough(savedGrad(tf.sin(t)) as tf.Tensor) as tf.Tensor, tf.exp(t))) as tf.Scalar;
      const stock = withStock(() => tf.tidy(() => Array.from(tf.grad(f)(x).dataSync())));
      const lean = withLean(() => tf.tidy(() => Array.from(tf.grad(f)(x).dataSync())));
      expect(lean).toEqual(stock);
      x.dispose();
    });

    it('leave a dy the caller passed usable, and take tfjs’s path for gradients of gradients', () => {
      withLean(() => {
        const x = tf.tensor1d([0.5, -1, 2]);
        const dy = tf.tensor1d([1, 2, 3]);
        const g = tf.grad((t: tf.Tensor) => tf.square(t))(x, dy);
        expect(Array.from(g.dataSync())).toEqual([1, -4, 12]);
        expect(dy.isDisposed).toBe(false);
        expect(Array.from(dy.dataSync())).toEqual([1, 2, 3]);
        // d²/dx² x³ = 6x
        const second = tf.grad((t: tf.Tensor) => tf.grad((u: tf.Tensor) => tf.sum(tf.pow(u, 3)))(t))(x);
        const s = Array.from(second.dataSync());
        [3, -6, 12].forEach((v, i) => expect(s[i]).toBeCloseTo(v, 4));
        tf.dispose([x, dy, g, second]);
      });
    });

    it('is what initBackend installs', () => {
      expect(leanGradientsInstalled()).toBe(true);
    });
  },
  ['wasm', 'cpu'],
);

describe('uninstallLeanGradients', () => {
  it('puts tfjs’s own gradients back and installLeanGradients is idempotent', () => {
    const engine = tf.engine() as unknown as { gradients: unknown };
    installLeanGradients();
    const lean = engine.gradients;
    expect(installLeanGradients()).toBe(true);
    expect(engine.gradients).toBe(lean);
    uninstallLeanGradients();
    expect(engine.gradients).not.toBe(lean);
    expect(leanGradientsInstalled()).toBe(false);
    installLeanGradients();
  });
});
