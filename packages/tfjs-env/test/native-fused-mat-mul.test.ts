import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { LINEAR_KERNEL, hasFusedKernels, linear } from '@promptkd/core';
import { registerNativeKernels } from '@promptkd/tfjs-env';
import { expectMatches, onCpu, rand } from './kernel-helpers.js';
import { nativeBuilt, vals, withCountingNativeKernels, type Vals } from './native-helpers.js';

/** Calls of the addon's functions, to tell the native `_FusedMatMul` from its fallback. */
const calls: Record<string, number> = {};
const COUNTED = ['gemm', 'binary', 'unary'] as const;

interface Case {
  label: string;
  a: number[];
  b: number[];
  bias?: number[];
  transposeA?: boolean;
  transposeB?: boolean;
  activation?: 'linear' | 'relu' | 'elu' | 'sigmoid' | 'leakyrelu';
}

// Row bias (a Linear layer's), per-row, full, scalar and [1, n] biases; transpose flags; batched operands; relu.
const NATIVE: Case[] = [
  { label: 'row bias', a: [37, 24], b: [24, 19], bias: [19] },
  { label: 'no bias', a: [37, 24], b: [24, 19] },
  { label: '[1, n] bias, relu', a: [37, 24], b: [24, 19], bias: [1, 19], activation: 'relu' },
  { label: 'per-row bias [m, 1]', a: [37, 24], b: [24, 19], bias: [37, 1] },
  { label: 'full bias', a: [37, 24], b: [24, 19], bias: [37, 19] },
  { label: 'scalar bias, relu', a: [37, 24], b: [24, 19], bias: [], activation: 'relu' },
  { label: 'transposeA', a: [24, 37], b: [24, 19], bias: [19], transposeA: true },
  { label: 'transposeB', a: [37, 24], b: [19, 24], bias: [19], transposeB: true },
  { label: 'batched a, shared b', a: [3, 11, 8], b: [1, 8, 5], bias: [5] },
  { label: 'batched both, relu', a: [4, 6, 9], b: [4, 9, 7], bias: [7], activation: 'relu' },
];

// Activations the addon does not apply itself go through their wasm kernels; a bias varying along a middle axis
// through the wasm `Add` (the stock wasm `_FusedMatMul` rejects any bias of rank > 1).
const COMPOSED: Case[] = [
  { label: 'elu', a: [9, 8], b: [8, 5], bias: [5], activation: 'elu' },
  { label: 'sigmoid, no bias', a: [9, 8], b: [8, 5], activation: 'sigmoid' },
  { label: 'leakyrelu', a: [9, 8], b: [8, 5], bias: [5], activation: 'leakyrelu' },
  { label: 'bias [b, 1, n] on a batched product', a: [3, 6, 4], b: [3, 4, 5], bias: [3, 1, 5] },
];

function fusedOn(c: Case, data: Float32Array[]): Vals {
  return tf.tidy(() => {
    const [a, b, bias] = [c.a, c.b, c.bias].map((s, i) => (s ? tf.tensor(data[i] as Float32Array, s) : undefined));
    const attrs = { transposeA: c.transposeA ?? false, transposeB: c.transposeB ?? false, activation: c.activation ?? 'linear', leakyreluAlpha: 0.2 };
    const inputs = bias ? { a: a as tf.Tensor, b: b as tf.Tensor, bias } : { a: a as tf.Tensor, b: b as tf.Tensor };
    return vals(tf.engine().runKernel(tf._FusedMatMul, inputs as tf.NamedTensorMap, attrs as unknown as tf.NamedAttrMap) as tf.Tensor);
  });
}

/** The unfused ops on the current backend: matMul (3-D, as tf.fused.matMul reshapes), add, activation. */
function unfusedOn(c: Case, data: Float32Array[]): Vals {
  return tf.tidy(() => {
    const [a, b, bias] = [c.a, c.b, c.bias].map((s, i) => (s ? tf.tensor(data[i] as Float32Array, s) : undefined));
    let y: tf.Tensor = tf.matMul(a as tf.Tensor, b as tf.Tensor, c.transposeA ?? false, c.transposeB ?? false);
    if (bias) y = tf.add(y, bias);
    if (c.activation === 'relu') y = tf.relu(y);
    if (c.activation === 'elu') y = tf.elu(y);
    if (c.activation === 'sigmoid') y = tf.sigmoid(y);
    if (c.activation === 'leakyrelu') y = tf.leakyRelu(y, 0.2);
    return vals(y);
  });
}

function dataOf(c: Case): Float32Array[] {
  return [c.a, c.b, c.bias].flatMap((s) => (s ? [rand(s).dataSync() as Float32Array] : []));
}

/** Σ w ⊙ fused.matMul(a, b, bias) and its gradients wrt a, b and bias. */
function gradsOn(data: Float32Array[], shapes: number[][]): Vals[] {
  return tf.tidy(() => {
    const [a, b, bias, w] = data.map((d, i) => tf.tensor(d, shapes[i]));
    const f = (x: tf.Tensor, y: tf.Tensor, z: tf.Tensor): tf.Scalar =>
      tf.sum(tf.mul(tf.fused.matMul({ a: x as tf.Tensor2D, b: y as tf.Tensor2D, bias: z }), w as tf.Tensor));
    return tf.grads(f)([a as tf.Tensor, b as tf.Tensor, bias as tf.Tensor]).map(vals);
  });
}

describe.skipIf(!nativeBuilt)('native _FusedMatMul (product, bias and relu in one kernel)', () => {
  const addon = withCountingNativeKernels(COUNTED, calls);

  it('is registered with the native kernels', () => {
    expect(registerNativeKernels(addon())).toContain(tf._FusedMatMul);
  });

  for (const c of NATIVE) {
    it(`${c.label}: equals the cpu backend, and bit for bit the unfused native ops`, async () => {
      const data = dataOf(c);
      const tensors = tf.memory().numTensors;
      const gemm = calls.gemm ?? 0;
      const ours = fusedOn(c, data);
      expect(calls.gemm ?? 0, 'the native product ran').toBe(gemm + 1);
      expect(tf.memory().numTensors).toBe(tensors);
      expect(ours.values, 'bit-identical to matMul, add and relu on the native kernels').toEqual(unfusedOn(c, data).values);
      expectMatches(ours, await onCpu(() => fusedOn(c, data)), `${c.label} vs cpu`);
    });
  }

  for (const c of COMPOSED) {
    it(`${c.label}: the native product, then the wasm kernels; equals the cpu backend and leaves no buffer behind`, async () => {
      const data = dataOf(c);
      const backend = tf.backend();
      const ids = backend.numDataIds();
      const gemm = calls.gemm ?? 0;
      const ours = fusedOn(c, data);
      expect(calls.gemm ?? 0, 'the native product ran').toBe(gemm + 1);
      expect(backend.numDataIds(), 'no intermediate buffer left').toBe(ids);
      expectMatches(ours, await onCpu(() => unfusedOn(c, data)), `${c.label} vs cpu`);
    });
  }

  it('linear() of @promptkd/core runs one PromptkdLinear kernel, bit-identical to matMul + add, with the cpu gradients', async () => {
    expect(hasFusedKernels(LINEAR_KERNEL)).toBe(true);
    const shapes: number[][] = [[40, 24], [24, 19], [19], [40, 19]];
    const data = shapes.map((s) => rand(s).dataSync() as Float32Array);
    const run = (): Vals[] =>
      tf.tidy(() => {
        const [x, w, b, g] = data.map((d, i): tf.Tensor => tf.tensor(d, shapes[i])) as [tf.Tensor2D, tf.Tensor2D, tf.Tensor1D, tf.Tensor2D];
        const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor): tf.Scalar => tf.sum(tf.mul(linear(xx as tf.Tensor2D, ww as tf.Tensor2D, bb as tf.Tensor1D), g));
        return [vals(linear(x, w, b)), vals(tf.add(tf.matMul(x, w), b)), ...tf.grads(f)([x, w, b]).map(vals)];
      });
    const kernels = (await tf.profile(() => tf.tidy(() => linear(tf.ones([4, 3]) as tf.Tensor2D, tf.ones([3, 2]) as tf.Tensor2D, tf.ones([2]) as tf.Tensor1D)))).kernels;
    expect(kernels.filter((k) => k.name !== 'Fill' && k.name !== 'OnesLike').map((k) => k.name)).toEqual([LINEAR_KERNEL]);
    const tensors = tf.memory().numTensors;
    const [ours, unfused, ...grads] = run();
    expect(tf.memory().numTensors).toBe(tensors);
    expect((ours as Vals).values, 'bit-identical to the unfused ops on the native kernels').toEqual((unfused as Vals).values);
    const [ref, , ...refGrads] = await onCpu(run);
    expectMatches(ours as Vals, ref as Vals, 'linear vs cpu');
    grads.forEach((g, i) => expectMatches(g, refGrads[i] as Vals, `gradient ${['x', 'w', 'b'][i]}`));
    expect(() => tf.tidy(() => linear(tf.zeros([2, 3]) as tf.Tensor2D, tf.zeros([4, 2]) as tf.Tensor2D))).toThrow(/x \[M, K\], w \[K, N\] and b \[N\] expected; got x \[2,3\], w \[4,2\]/);
  });

  it('tf.fused.matMul with a bias: gradients wrt a, b and the bias equal the cpu backend', async () => {
    const shapes = [[40, 24], [24, 19], [19], [40, 19]];
    const data = shapes.map((s) => rand(s).dataSync() as Float32Array);
    const tensors = tf.memory().numTensors;
    const ours = gradsOn(data, shapes);
    expect(tf.memory().numTensors).toBe(tensors);
    const ref = await onCpu(() => gradsOn(data, shapes));
    ours.forEach((g, i) => expectMatches(g, ref[i] as Vals, `gradient ${i}`));
  });
});
