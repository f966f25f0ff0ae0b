import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, ShapeError, VIT_BLOCK_GRAD_KERNEL, VIT_BLOCK_KERNEL, VIT_BLOCK_TRAIN_KERNEL, disposeAll, hasFusedKernels } from '@promptkd/core';
import { VisionTransformer, deserializeModel, multiHeadAttention, vitPresets } from '@promptkd/models';
import { expectClose, expectNoTensorLeak, readFixture } from '@promptkd/testing';
import { fixtureBytes, flat, nhwc } from './helpers.js';

interface VitFixture { config: { img: number; p: number; d: number; depth: number; h: number; k: number }; x_nchw: number[]; logits: number[] }
interface PrefixFixture {
  heads: number; x: number[]; qkv_weight_out_in: number[][]; qkv_bias: number[]; proj_weight_out_in: number[][]; proj_bias: number[];
  prefix_key: number[]; prefix_value: number[]; out: number[]; upstream: number[]; grad_prefix_key: number[]; grad_prefix_value: number[];
}

const pf = readFixture<PrefixFixture>(import.meta.url, 'prefix-attention.json');

function attnWeights() {
  return {
    qkvWeight: tf.transpose(tf.tensor2d(pf.qkv_weight_out_in)) as tf.Tensor2D,
    qkvBias: tf.tensor1d(pf.qkv_bias),
    projWeight: tf.transpose(tf.tensor2d(pf.proj_weight_out_in)) as tf.Tensor2D,
    projBias: tf.tensor1d(pf.proj_bias),
  };
}

describe('ViT vs PyTorch fixtures', () => {
  it('tiny timm ViT logits match', () => {
    const fx = readFixture<VitFixture>(import.meta.url, 'tiny-vit.json');
    const c = fx.config;
    const m = new VisionTransformer({ imageSize: c.img, patchSize: c.p, dim: c.d, depth: c.depth, heads: c.h, numClasses: c.k });
    const report = deserializeModel(m, fixtureBytes(import.meta.url, 'tiny-vit.safetensors'), { file: 'tiny-vit.safetensors' });
    expect(report.loaded.length).toBe(m.namedVariables().size);
    const x = nhwc(fx.x_nchw);
    const out = m.apply(x);
    expectClose(out.logits.dataSync(), flat(fx.logits), { rtol: 1e-4, atol: 1e-5, label: 'vit logits' });
    disposeAll([x, out]);
    m.dispose();
  });

  it('prefix attention (prepended) output and prefix gradients match', () => {
    const w = attnWeights();
    const x = tf.tensor3d(pf.x as unknown as number[][][]);
    const pk = tf.tensor3d(pf.prefix_key as unknown as number[][][]);
    const pv = tf.tensor3d(pf.prefix_value as unknown as number[][][]);
    const up = tf.tensor3d(pf.upstream as unknown as number[][][]);
    const out = multiHeadAttention(x, w, pf.heads, { prepend: { key: pk, value: pv } });
    expectClose(out.dataSync(), flat(pf.out), { label: 'out' });
    const [gk, gv] = tf.grads((k: tf.Tensor, v: tf.Tensor) =>
      tf.sum(tf.mul(multiHeadAttention(x, w, pf.heads, { prepend: { key: k as tf.Tensor3D, value: v as tf.Tensor3D } }), up)))([pk, pv]);
    expectClose(gk!.dataSync(), flat(pf.grad_prefix_key), { label: 'grad pk' });
    expectClose(gv!.dataSync(), flat(pf.grad_prefix_value), { label: 'grad pv' });
    // Attention is invariant to the order of keys: appending the same prefixes gives the same output,
    // and prepend(first rows) + append(last rows) equals prepending all rows.
    const outApp = multiHeadAttention(x, w, pf.heads, { append: { key: pk, value: pv } });
    expectClose(outApp.dataSync(), flat(pf.out), { label: 'appended' });
    const split = (t: tf.Tensor3D) => tf.split(t, [1, 2], 1) as [tf.Tensor3D, tf.Tensor3D];
    const [k1, k2] = split(pk);
    const [v1, v2] = split(pv);
    const both = multiHeadAttention(x, w, pf.heads, { prepend: { key: k1, value: v1 }, append: { key: k2, value: v2 } });
    expectClose(both.dataSync(), flat(pf.out), { label: 'prepend+append' });
    // Zero-length prefix = vanilla attention; a single shared prefix [1, Lp, D] broadcasts over the batch.
    const vanilla = multiHeadAttention(x, w, pf.heads);
    const empty = multiHeadAttention(x, w, pf.heads, { prepend: { key: tf.zeros([2, 0, 8]), value: tf.zeros([2, 0, 8]) } });
    expectClose(empty.dataSync(), vanilla.dataSync(), { label: 'empty prefix' });
    const shared = tf.slice(pk, [0, 0, 0], [1, 3, 8]) as tf.Tensor3D;
    const sharedV = tf.slice(pv, [0, 0, 0], [1, 3, 8]) as tf.Tensor3D;
    const b1 = multiHeadAttention(x, w, pf.heads, { prepend: { key: shared, value: sharedV } });
    const b2 = multiHeadAttention(x, w, pf.heads, { prepend: { key: tf.tile(shared, [2, 1, 1]), value: tf.tile(sharedV, [2, 1, 1]) } });
    expectClose(b1.dataSync(), b2.dataSync(), { label: 'broadcast prefix' });
    expect(() => multiHeadAttention(x, w, pf.heads, { prepend: { key: pk, value: tf.zeros([2, 2, 8]) } })).toThrow(ShapeError);
    disposeAll([w.qkvWeight, w.qkvBias, w.projWeight, w.projBias, x, pk, pv, up, out, gk!, gv!, outApp, k1, k2, v1, v2, both, vanilla, empty, shared, sharedV, b1, b2]);
  });
});

describe('ViT insertion points', () => {
  const cfg = { imageSize: 8, patchSize: 4, dim: 16, depth: 3, heads: 2, numClasses: 5, seed: 3 };

  it('extra tokens: appended without positional embedding, tapped, and permutation-equivariant', () => {
    const m = new VisionTransformer(cfg);
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const e = tf.randomNormal([2, 2, 16], 0, 1, 'float32', 2) as tf.Tensor3D;
    const eSwap = tf.reverse(e, 1) as tf.Tensor3D;
    const a = m.apply(x, { extraTokens: e, taps: ['tokens', 'extra', 'cls', 'blocks.2'] });
    const b = m.apply(x, { extraTokens: eSwap, taps: ['extra', 'cls'] });
    expect(a.taps.tokens!.shape).toEqual([2, 1 + 4 + 2, 16]);
    expect(a.taps['blocks.2']!.shape).toEqual([2, 7, 16]);
    expect(a.taps.extra!.shape).toEqual([2, 2, 16]);
    // Without a position embedding on the extra tokens, swapping them swaps their outputs and leaves [CLS] unchanged.
    expectClose(b.taps.cls!.dataSync(), a.taps.cls!.dataSync(), { label: 'cls' });
    expectClose(tf.reverse(b.taps.extra!, 1).dataSync(), a.taps.extra!.dataSync(), { label: 'extra swapped' });
    const plain = m.apply(x, { taps: ['tokens'] });
    expect(plain.taps.tokens!.shape).toEqual([2, 5, 16]);
    expect(() => m.apply(x, { taps: ['extra'] })).toThrow(ConfigError);
    expect(() => m.apply(x, { taps: ['nope'] })).toThrow(ConfigError);
    expect(() => m.apply(tf.zeros([1, 16, 16, 3]) as tf.Tensor4D)).toThrow(ShapeError);
    disposeAll([x, e, eSwap, a, b, plain]);
    m.dispose();
  });

  it('gradients reach prefixes and extra tokens; a frozen backbone stays unchanged after an optimizer step', async () => {
    const m = new VisionTransformer(cfg);
    m.setTrainable(false);
    expect(m.trainableVariables()).toEqual([]);
    const before = new Map([...m.namedVariables()].map(([k, v]) => [k, v.dataSync().slice()]));
    const pre = [0, 1].map((i) => ({ key: tf.variable(tf.randomNormal([1, 2, 16], 0, 0.5, 'float32', 10 + i)), value: tf.variable(tf.randomNormal([1, 2, 16], 0, 0.5, 'float32', 20 + i)) }));
    const app = { key: tf.variable(tf.randomNormal([1, 1, 16], 0, 0.5, 'float32', 30)), value: tf.variable(tf.randomNormal([1, 1, 16], 0, 0.5, 'float32', 31)) };
    const token = tf.variable(tf.randomNormal([1, 1, 16], 0, 0.5, 'float32', 40));
    const vars = [...pre.flatMap((p) => [p.key, p.value]), app.key, app.value, token];
    const init = vars.map((v) => v.dataSync().slice());
    const x = tf.randomUniform([3, 8, 8, 3], 0, 1, 'float32', 5) as tf.Tensor4D;
    const y = tf.oneHot(tf.tensor1d([0, 3, 1], 'int32'), 5);
    const loss = () => {
      const o = m.apply(x, {
        prefixes: [
          { prepend: pre[0] },
          { prepend: pre[1], append: app },
        ],
        extraTokens: token,
        taps: ['extra'],
      });
      const kd = tf.mean(tf.square(o.taps.extra!));
      return tf.add(tf.losses.softmaxCrossEntropy(y, o.logits), kd) as tf.Scalar;
    };
    const { grads, value } = tf.variableGrads(loss, vars);
    for (const v of vars) expect(tf.norm(grads[v.name]!).dataSync()[0]).toBeGreaterThan(0);
    disposeAll([grads, value]);
    const opt = tf.train.adam(0.05);
    const step = () => tf.tidy(() => { opt.minimize(loss, false, vars); });
    step();
    await expectNoTensorLeak(step, { label: 'prompt step' });
    vars.forEach((v, i) => expect(maxDiff(v.dataSync(), init[i]!)).toBeGreaterThan(0));
    for (const [k, v] of m.namedVariables()) expect(maxDiff(v.dataSync(), before.get(k)!), k).toBe(0);
    // Global minimize without a var list must not touch the frozen backbone either.
    tf.tidy(() => { opt.minimize(loss); });
    for (const [k, v] of m.namedVariables()) expect(maxDiff(v.dataSync(), before.get(k)!), k).toBe(0);
    opt.dispose();
    disposeAll([...vars, x, y]);
    m.dispose();
  });

  it('numClasses 0 removes the head: logits are the normed [CLS] feature', () => {
    const m = new VisionTransformer({ ...cfg, numClasses: 0 });
    expect(m.headNames).toEqual([]);
    expect([...m.namedVariables().keys()].some((k) => k.startsWith('head.'))).toBe(false);
    const x = tf.randomUniform([2, 8, 8, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    const out = m.apply(x, { taps: ['cls'] });
    expect(out.logits.shape).toEqual([2, 16]);
    expectClose(out.logits.dataSync(), out.taps.cls!.dataSync());
    disposeAll([x, out]);
    m.dispose();
  });

  it('timm configs have the reference parameter counts (ViT-Ti/16: 5,717,416)', () => {
    const m = new VisionTransformer(vitPresets.vitTiny);
    expect(m.parameterCount()).toBe(5_717_416);
    m.dispose();
  });
});

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let d = 0;
  for (let i = 0; i < a.length; i++) d = Math.max(d, Math.abs((a[i] as number) - (b[i] as number)));
  return d;
}

// With the native kernels (the suite's second pass, PROMPTKD_NATIVE=1) a frozen ViT runs each block as one kernel.
const blockKernels = [VIT_BLOCK_KERNEL, VIT_BLOCK_TRAIN_KERNEL, VIT_BLOCK_GRAD_KERNEL];
describe.skipIf(!hasFusedKernels(...blockKernels))('ViT blocks as one kernel (native kernels active)', () => {
  const n = 5;
  const build = () => new VisionTransformer({ imageSize: 16, patchSize: 4, dim: 24, depth: 2, heads: 3, mlpRatio: 2, numClasses: 5, seed: 3 });
  const inputs = () => [tf.randomNormal([n, 2, 24], 0, 1, 'float32', 1), tf.randomNormal([n, 2, 24], 0, 1, 'float32', 2),
    tf.randomNormal([1, 3, 24], 0, 1, 'float32', 3), tf.randomNormal([1, 3, 24], 0, 1, 'float32', 4), tf.randomNormal([1, 1, 24], 0, 1, 'float32', 5)];
  /** Logits and Σ r·tokens' gradients wrt the prefixes and the extra token; the kernels the pass ran. */
  const run = async (vit: VisionTransformer, x: tf.Tensor4D, ps: tf.Tensor[], noGrad: boolean) => {
    const apply = (a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor, e: tf.Tensor) =>
      vit.apply(x, { prefixes: [{ prepend: { key: a, value: b } }, { prepend: { key: a, value: b }, append: { key: c, value: d } }], extraTokens: e, taps: ['tokens'], noGrad });
    let out: { logits: Float32Array; grads: Float32Array[] } | undefined;
    const prof = await tf.profile(() => {
      out = tf.tidy(() => {
        const logits = apply(...(ps as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor])).logits.dataSync() as Float32Array;
        if (noGrad) return { logits, grads: [] };
        const f = (...a: tf.Tensor[]) => tf.sum(tf.mul(apply(...(a as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor])).taps.tokens as tf.Tensor, 0.1));
        return { logits, grads: tf.grads(f)(ps).map((g) => g.dataSync() as Float32Array) };
      });
    });
    return { ...(out as NonNullable<typeof out>), kernels: new Set(prof.kernels.map((k) => k.name)) };
  };

  it('a noGrad forward and the gradients through a frozen ViT equal the composition; a trainable ViT composes', async () => {
    const vit = build();
    const x = tf.randomUniform([n, 16, 16, 3], 0, 1, 'float32', 6) as tf.Tensor4D;
    const ps = inputs();
    const before = tf.memory().numTensors;
    const composed = await run(vit, x, ps, false);
    expect(blockKernels.some((k) => composed.kernels.has(k)), 'trainable ViT: composition').toBe(false);
    const alone = await run(vit, x, ps, true);
    expect(alone.kernels.has(VIT_BLOCK_KERNEL)).toBe(true);
    vit.setTrainable(false);
    const frozen = await run(vit, x, ps, false);
    expect(frozen.kernels.has(VIT_BLOCK_TRAIN_KERNEL) && frozen.kernels.has(VIT_BLOCK_GRAD_KERNEL)).toBe(true);
    expect(tf.memory().numTensors, 'tensors left behind').toBe(before);
    expectClose(alone.logits, composed.logits, { rtol: 1e-4, atol: 1e-5, label: 'noGrad logits' });
    expectClose(frozen.logits, composed.logits, { rtol: 1e-4, atol: 1e-5, label: 'frozen logits' });
    composed.grads.forEach((g, i) => expectClose(frozen.grads[i] as Float32Array, g, { rtol: 1e-4, atol: 1e-5, label: `gradient ${i}` }));
    tf.dispose([x, ...ps]);
    vit.dispose();
  });

  it('refuses a gradient through a noGrad forward with a ConfigError', () => {
    const vit = build();
    const x = tf.randomUniform([2, 16, 16, 3]) as tf.Tensor4D;
    const e = tf.zeros([1, 1, 24]);
    expect(() => tf.grad((t: tf.Tensor) => tf.sum(vit.apply(x, { extraTokens: t, noGrad: true }).logits))(e)).toThrow(ConfigError);
    tf.dispose([x, e]);
    vit.dispose();
  });
});
