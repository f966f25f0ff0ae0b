import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import {
  VIT_BLOCK_GRAD_KERNEL, VIT_BLOCK_KERNEL, VIT_BLOCK_TRAIN_KERNEL, fusedVitBlock, gelu, hasFusedKernels, layerNorm, linear, scaledDotAttention,
  type VitBlockPrefix, type VitBlockWeights,
} from '@promptkd/core';
import { registerNativeKernels, unregisterNativeKernels } from '@promptkd/tfjs-env';
import { expectMatches, onCpu, rand } from './kernel-helpers.js';
import { nativeBuilt, vals, withNativeKernels, type Vals } from './native-helpers.js';

const EPS = 1e-6;
const PREFIXES = ['prependKey', 'prependValue', 'appendKey', 'appendValue'] as const;

/** The block from core's ops (timm `Block`, prefix tuning as the ViT of @promptkd/models composes it). */
function composedBlock(x: tf.Tensor3D, w: VitBlockWeights, heads: number, prefix: VitBlockPrefix): tf.Tensor3D {
  const [n, l, d] = x.shape;
  const flat = (t: tf.Tensor) => tf.reshape(t, [n * l, -1]) as tf.Tensor2D;
  const batch = (t: tf.Tensor) => (t.shape[0] === n ? t : tf.tile(t, [n, 1, 1]));
  const qkv = tf.reshape(linear(flat(layerNorm(x, w.ln1Gamma, w.ln1Beta, EPS)), w.qkvWeight as tf.Tensor2D, w.qkvBias as tf.Tensor1D | undefined), [n, l, 3 * d]);
  const [q, k0, v0] = tf.split(qkv, 3, 2) as tf.Tensor3D[];
  const k = tf.concat([prefix.prependKey, k0, prefix.appendKey].filter((t): t is tf.Tensor => !!t).map(batch), 1) as tf.Tensor3D;
  const v = tf.concat([prefix.prependValue, v0, prefix.appendValue].filter((t): t is tf.Tensor => !!t).map(batch), 1) as tf.Tensor3D;
  const o = linear(flat(scaledDotAttention(q as tf.Tensor3D, k, v, heads, (d / heads) ** -0.5)), w.projWeight as tf.Tensor2D, w.projBias as tf.Tensor1D | undefined);
  const h = tf.add(x, tf.reshape(o, [n, l, d]));
  const u = linear(flat(layerNorm(h, w.ln2Gamma, w.ln2Beta, EPS)), w.fc1Weight as tf.Tensor2D, w.fc1Bias as tf.Tensor1D | undefined);
  const m = linear(gelu(u), w.fc2Weight as tf.Tensor2D, w.fc2Bias as tf.Tensor1D | undefined);
  return tf.add(h, tf.reshape(m, [n, l, d])) as tf.Tensor3D;
}

interface Case {
  n: number;
  l: number;
  d: number;
  heads: number;
  hidden: number;
  pre?: [length: number, batch: number];
  app?: [length: number, batch: number];
  biases: boolean;
}

/** Seeded data of a case: x, the weights and prefixes, and the weighting r of the output for Σ r·y. */
function data(c: Case): Record<string, Vals> {
  const shapes: Record<string, number[]> = {
    x: [c.n, c.l, c.d], r: [c.n, c.l, c.d],
    ln1Gamma: [c.d], ln1Beta: [c.d], qkvWeight: [c.d, 3 * c.d], projWeight: [c.d, c.d], ln2Gamma: [c.d], ln2Beta: [c.d],
    fc1Weight: [c.d, c.hidden], fc2Weight: [c.hidden, c.d],
    ...(c.biases ? { qkvBias: [3 * c.d], projBias: [c.d], fc1Bias: [c.hidden], fc2Bias: [c.d] } : {}),
    ...(c.pre ? { prependKey: [c.pre[1], c.pre[0], c.d], prependValue: [c.pre[1], c.pre[0], c.d] } : {}),
    ...(c.app ? { appendKey: [c.app[1], c.app[0], c.d], appendValue: [c.app[1], c.app[0], c.d] } : {}),
  };
  return Object.fromEntries(
    Object.entries(shapes).map(([name, shape]) => {
      // weights scaled as a trained ViT's (0.02-normal linear weights would make the block near identity)
      const scale = name.endsWith('Weight') ? 1 / Math.sqrt(shape[0] as number) : name.endsWith('Gamma') ? 1 : 0.5;
      const t = tf.tidy(() => tf.add(tf.mul(rand(shape), scale), name.endsWith('Gamma') ? 1 : 0));
      const v = vals(t);
      t.dispose();
      return [name, { shape, values: v.values.slice() }];
    }),
  );
}

/** y and the gradients of Σ r·y wrt x and the prefixes: fused on wasm, composed on cpu. */
function valueAndGrads(c: Case, d: Record<string, Vals>, fused: boolean): Vals[] {
  return tf.tidy(() => {
    const t = Object.fromEntries(Object.entries(d).map(([name, v]) => [name, tf.tensor(v.values, v.shape)])) as Record<string, tf.Tensor>;
    const { x, r, ...rest } = t;
    const prefixNames = PREFIXES.filter((name) => rest[name]);
    const block = (xx: tf.Tensor, ...ps: tf.Tensor[]) => {
      const w = { ...rest } as unknown as VitBlockWeights;
      const prefix = Object.fromEntries(prefixNames.map((name, i) => [name, ps[i]])) as VitBlockPrefix;
      const y = fused ? fusedVitBlock(xx as tf.Tensor3D, w, c.heads, EPS, prefix, true) : composedBlock(xx as tf.Tensor3D, w, c.heads, prefix);
      if (!y) throw new Error('the fused block did not run');
      return y;
    };
    const f = (xx: tf.Tensor, ...ps: tf.Tensor[]) => tf.sum(tf.mul(block(xx, ...ps), r as tf.Tensor));
    const inputs = [x as tf.Tensor, ...prefixNames.map((name) => rest[name] as tf.Tensor)];
    return [vals(block(...(inputs as [tf.Tensor, ...tf.Tensor[]]))), ...tf.grads(f)(inputs).map(vals)];
  });
}

/** The forward alone (no gradient): the fused kernel that keeps nothing. */
function forwardOnly(d: Record<string, Vals>, heads: number): Vals {
  return tf.tidy(() => {
    const t = Object.fromEntries(Object.entries(d).map(([name, v]) => [name, tf.tensor(v.values, v.shape)])) as Record<string, tf.Tensor>;
    const { x, r: _r, ...rest } = t;
    const y = fusedVitBlock(x as tf.Tensor3D, rest as unknown as VitBlockWeights, heads, EPS, rest as VitBlockPrefix);
    if (!y) throw new Error('the fused block did not run');
    return vals(y);
  });
}

describe.skipIf(!nativeBuilt)('fused ViT block (native) matches the composed block on the cpu backend', () => {
  const addon = withNativeKernels();

  it('registers its three kernels with the native kernels and goes with them', () => {
    expect(hasFusedKernels(VIT_BLOCK_KERNEL, VIT_BLOCK_TRAIN_KERNEL, VIT_BLOCK_GRAD_KERNEL)).toBe(true);
    unregisterNativeKernels();
    expect(hasFusedKernels(VIT_BLOCK_KERNEL)).toBe(false);
    const x = tf.zeros([1, 2, 4]) as tf.Tensor3D;
    const w = Object.fromEntries(
      Object.entries({ ln1Gamma: [4], ln1Beta: [4], qkvWeight: [4, 12], projWeight: [4, 4], ln2Gamma: [4], ln2Beta: [4], fc1Weight: [4, 8], fc2Weight: [8, 4] })
        .map(([k, s]) => [k, tf.zeros(s)]),
    ) as unknown as VitBlockWeights;
    expect(fusedVitBlock(x, w, 2, EPS), 'no kernel: the caller composes').toBeUndefined();
    tf.dispose([x, ...Object.values(w)]);
    registerNativeKernels(addon());
    expect(hasFusedKernels(VIT_BLOCK_KERNEL, VIT_BLOCK_TRAIN_KERNEL, VIT_BLOCK_GRAD_KERNEL)).toBe(true);
  });

  // the KDP CPU study's teacher (D 64, 4 heads of 16, 17 tokens, CODA-P prefixes per sample) and student (D 32, an
  // appended KD prompt given once for the batch, a KD token: 19 tokens); no prefixes; no biases and heads of 8 with
  // both prefixes given once; rows longer than a chunk (one sample per chunk); N not a multiple of a chunk's samples
  const cases: Array<[string, Case]> = [
    ['teacher: D 64, 4 heads, prepended per sample', { n: 20, l: 17, d: 64, heads: 4, hidden: 128, pre: [2, 20], biases: true }],
    ['student: D 32, 2 heads, both prefixes', { n: 9, l: 19, d: 32, heads: 2, hidden: 64, pre: [2, 9], app: [2, 1], biases: true }],
    ['no prefixes, odd sizes', { n: 3, l: 5, d: 12, heads: 3, hidden: 20, biases: true }],
    ['no biases, heads of 8, prefixes once per batch', { n: 4, l: 7, d: 24, heads: 3, hidden: 40, pre: [1, 1], app: [3, 1], biases: false }],
    ['rows longer than a chunk', { n: 2, l: 130, d: 16, heads: 1, hidden: 32, app: [2, 2], biases: true }],
  ];
  for (const [label, c] of cases) {
    it(`${label}: y and the gradients wrt x and the prefixes`, async () => {
      const d = data(c);
      const before = tf.memory().numTensors;
      const ours = valueAndGrads(c, d, true);
      const alone = forwardOnly(d, c.heads);
      expect(tf.memory().numTensors, 'tensors left behind').toBe(before);
      const ref = await onCpu(() => valueAndGrads(c, d, false));
      const names = ['y', 'dx', ...PREFIXES.filter((name) => d[name])];
      names.forEach((what, i) => expectMatches(ours[i] as Vals, ref[i] as Vals, `${label}: ${what}`));
      expectMatches(alone, ref[0] as Vals, `${label}: y of the forward alone`);
    });
  }

  it('is bit-identical on 1 and 2 threads (chunks of whole samples, fixed by the shapes)', () => {
    const c: Case = { n: 20, l: 17, d: 64, heads: 4, hidden: 128, pre: [2, 20], app: [2, 1], biases: true };
    const d = data(c);
    const run = (threads: number) => {
      addon().setThreads(threads);
      return [...valueAndGrads(c, d, true), forwardOnly(d, c.heads)].map((v) => Buffer.from(v.values.buffer));
    };
    const one = run(1);
    const two = run(2);
    addon().setThreads(2);
    two.forEach((t, i) => expect(t.equals(one[i] as Buffer), `output ${i}`).toBe(true));
  });

  it('refuses a gradient through the forward that keeps nothing, with a ConfigError saying what to do', () => {
    const c: Case = { n: 2, l: 3, d: 8, heads: 2, hidden: 8, biases: true };
    const d = data(c);
    const t = Object.fromEntries(Object.entries(d).map(([name, v]) => [name, tf.tensor(v.values, v.shape)])) as Record<string, tf.Tensor>;
    const { x, r: _r, ...w } = t;
    const f = (xx: tf.Tensor) => tf.sum(fusedVitBlock(xx as tf.Tensor3D, w as unknown as VitBlockWeights, 2, EPS) as tf.Tensor);
    expect(() => tf.grad(f)(x as tf.Tensor)).toThrow(/PromptkdVitBlock has no gradient.*noGrad: true.*Drop noGrad/);
    tf.dispose(Object.values(t));
  });
});
