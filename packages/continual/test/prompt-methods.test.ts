import * as tf from '@tensorflow/tfjs';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, Rng } from '@promptkd/core';
import { expectClose } from '@promptkd/testing';
import {
  CODA_PROMPT_DEFAULTS,
  CodaPrompt,
  DUAL_PROMPT_DEFAULTS,
  DualPrompt,
  L2P,
  L2P_DEFAULTS,
  clMethodRegistry,
  codaPromptConfigSchema,
  createClMethod,
  dualPromptConfigSchema,
  gramSchmidtRows,
  l2pConfigSchema,
} from '../src/index.js';

const D = 8;
const DQ = 6;

function hostCos(q: number[], k: number[]): number {
  const dot = q.reduce((s, v, i) => s + v * (k[i] as number), 0);
  const nq = Math.sqrt(q.reduce((s, v) => s + v * v, 0));
  const nk = Math.sqrt(k.reduce((s, v) => s + v * v, 0));
  return dot / Math.max(nq * nk, 1e-12);
}

const disposers: Array<{ dispose(): void }> = [];
afterEach(() => {
  for (const d of disposers.splice(0)) d.dispose();
});

describe('L2P++', () => {
  it('picks the top-k keys by cosine similarity, concatenates their prefixes and averages the key loss', () => {
    const l2p = new L2P(D, DQ, { poolSize: 6, length: 4, topK: 2, layers: [0] }, Rng.fromSeed(1));
    disposers.push(l2p);
    const keys = l2p.namedVariables().get('e_k_0') as tf.Variable;
    const pool = l2p.namedVariables().get('e_p_0') as tf.Variable;
    const q = tf.tensor2d([
      [1, 0, 0, 0, 0, 0.5],
      [0, 1, 0, 2, 0, 0],
      [0.3, 0.1, 0.9, 0, 0.2, 0],
    ]);
    const qh = q.arraySync();
    const kh = keys.arraySync() as number[][];
    const ph = pool.arraySync() as number[][][];
    const sel = l2p.select(q, { training: true, inspect: true });
    const expected = qh.map((row) =>
      kh
        .map((k, i) => ({ i, c: hostCos(row, k) }))
        .sort((a, b) => b.c - a.c)
        .slice(0, 2)
        .map((e) => e.i),
    );
    expect(sel.selected).toEqual(expected);
    const pre = sel.prefixes[0];
    expect(pre?.key.shape).toEqual([3, 4, D]); // k·L/2 = 2·2
    // prefix keys = [first half of prompt a ; first half of prompt b]
    const expKey = expected.map(([a, b]) => [...(ph[a as number] as number[][]).slice(0, 2), ...(ph[b as number] as number[][]).slice(0, 2)]);
    const expVal = expected.map(([a, b]) => [...(ph[a as number] as number[][]).slice(2), ...(ph[b as number] as number[][]).slice(2)]);
    expectClose(pre?.key.dataSync() ?? [], expKey.flat(2));
    expectClose(pre?.value.dataSync() ?? [], expVal.flat(2));
    const loss = expected.reduce((s, ids, n) => s + ids.reduce((t, i) => t + 1 - hostCos(qh[n] as number[], kh[i] as number[]), 0), 0) / 3;
    expectClose(sel.keyLoss?.dataSync() ?? [], [loss]);
    // same selection at test time, no key loss
    const test = l2p.select(q, { training: false, inspect: true });
    expect(test.selected).toEqual(expected);
    expect(test.keyLoss).toBeUndefined();
    // key loss trains the keys, not the query (q is detached) nor the pool
    const { grads: g } = tf.variableGrads(() => l2p.select(q, { training: true }).keyLoss as tf.Scalar, [keys, pool]);
    expect(g[keys.name]).toBeDefined();
    expect(g[pool.name]).toBeUndefined();
    tf.dispose([q, sel.keyLoss, test.keyLoss, ...Object.values(g)]);
    tf.dispose(sel.prefixes.flatMap((p) => (p ? [p.key, p.value] : [])));
    tf.dispose(test.prefixes.flatMap((p) => (p ? [p.key, p.value] : [])));
  });
});

describe('DualPrompt', () => {
  it('uses the true task id in training and top-1 key matching at test; G-prompts in G-layers', () => {
    const dual = new DualPrompt(D, DQ, { poolSize: 3, eLength: 4, gLength: 2, gLayers: [0], eLayers: [1] }, Rng.fromSeed(2));
    disposers.push(dual);
    dual.beforeTask({ task: 2, lo: 4, hi: 6 });
    const q = tf.tensor2d([
      [1, 0, 0, 0, 0, 0],
      [0, 0, 0, 0, 0, 1],
    ]);
    tf.tidy(() => {
      const train = dual.select(q, { training: true, inspect: true });
      expect(train.selected).toEqual([[2], [2]]);
      const ph = (dual.namedVariables().get('e_p_1') as tf.Variable).arraySync() as number[][][];
      expectClose(train.prefixes[1]?.key.dataSync() ?? [], [...(ph[2] as number[][]).slice(0, 2), ...(ph[2] as number[][]).slice(0, 2)].flat());
      const kh = (dual.namedVariables().get('e_k_1') as tf.Variable).arraySync() as number[][];
      const qh = q.arraySync();
      const loss = qh.reduce((s, row) => s + 1 - hostCos(row, kh[2] as number[]), 0) / 2;
      expectClose(train.keyLoss?.dataSync() ?? [], [loss]);
      // G prompt: layer 0, length 2 → 1 key + 1 value, identical for every sample
      const g = (dual.namedVariables().get('g_p_0') as tf.Variable).arraySync() as number[][];
      expectClose(train.prefixes[0]?.key.dataSync() ?? [], [g[0], g[0]].flat() as number[]);
      expectClose(train.prefixes[0]?.value.dataSync() ?? [], [g[1], g[1]].flat() as number[]);
      const test = dual.select(q, { training: false, inspect: true });
      const best = qh.map((row) => [kh.map((k) => hostCos(row, k)).reduce((bi, c, i, arr) => (c > (arr[bi] as number) ? i : bi), 0)]);
      expect(test.selected).toEqual(best);
      expect(test.keyLoss).toBeUndefined();
    });
    q.dispose();
  });

  it('concatenates E then G when a layer has both', () => {
    const dual = new DualPrompt(D, DQ, { poolSize: 2, eLength: 4, gLength: 2, gLayers: [0], eLayers: [0] }, Rng.fromSeed(2));
    disposers.push(dual);
    tf.tidy(() => {
      const sel = dual.select(tf.ones([1, DQ]) as tf.Tensor2D, { training: true });
      expect(sel.prefixes[0]?.key.shape).toEqual([1, 3, D]);
      const g = (dual.namedVariables().get('g_p_0') as tf.Variable).arraySync() as number[][];
      expectClose(Array.from(sel.prefixes[0]?.key.dataSync() ?? []).slice(2 * D), g[0] as number[]);
    });
  });
});

describe('CODA-Prompt', () => {
  it('Gram–Schmidt re-init: new rows unit norm, orthogonal to all earlier rows, future rows zero, old rows kept', () => {
    const rng = Rng.fromSeed(5);
    const rows = 6;
    const dim = 8;
    const first = gramSchmidtRows(new Float32Array(rows * dim), rows, dim, 0, 2, rng);
    const second = gramSchmidtRows(first, rows, dim, 2, 4, rng);
    const row = (a: Float32Array, i: number) => Array.from(a.subarray(i * dim, (i + 1) * dim));
    const dot = (a: number[], b: number[]) => a.reduce((s, v, i) => s + v * (b[i] as number), 0);
    for (let i = 0; i < 4; i++) {
      expect(dot(row(second, i), row(second, i))).toBeCloseTo(1, 5);
      for (let j = 0; j < i; j++) expect(Math.abs(dot(row(second, i), row(second, j)))).toBeLessThan(1e-5);
    }
    expect(row(second, 0)).toEqual(row(first, 0));
    expect(row(second, 5).every((v) => v === 0)).toBe(true);
    expect(() => gramSchmidtRows(second, rows, 3, 2, 4, rng)).toThrow(/orthogonal/);
  });

  it('re-initialises the new task rows of K, A and P orthonormal to earlier rows at beforeTask', () => {
    const coda = new CodaPrompt(D, DQ, { poolSize: 6, length: 2, orthoMu: 0, layers: [0, 1], numTasks: 3 }, Rng.fromSeed(7));
    disposers.push(coda);
    const before = (coda.namedVariables().get('e_k_1') as tf.Variable).arraySync() as number[][];
    coda.beforeTask({ task: 1, lo: 2, hi: 4 });
    for (const name of ['e_k_0', 'e_a_1', 'e_p_1']) {
      const v = coda.namedVariables().get(name) as tf.Variable;
      const m = tf.tidy(() => tf.reshape(v, [6, -1]).arraySync() as number[][]);
      const gram = m.map((a) => m.map((b) => a.reduce((s, x, i) => s + x * (b[i] as number), 0)));
      for (let i = 0; i < 4; i++) for (let j = 0; j < 4; j++) expect(gram[i]?.[j]).toBeCloseTo(i === j ? 1 : 0, 4);
      expect(m.slice(4).flat().every((x) => x === 0)).toBe(true);
    }
    const after = (coda.namedVariables().get('e_k_1') as tf.Variable).arraySync() as number[][];
    expect(after.slice(0, 2)).toEqual(before.slice(0, 2));
  });

  it('weights components by α_k = cos(q ⊙ A_k, K_k) and freezes past rows in training', () => {
    const coda = new CodaPrompt(D, DQ, { poolSize: 4, length: 2, orthoMu: 0, layers: [0], numTasks: 2 }, Rng.fromSeed(9));
    disposers.push(coda);
    coda.beforeTask({ task: 1, lo: 2, hi: 4 });
    const K = coda.namedVariables().get('e_k_0') as tf.Variable;
    const A = coda.namedVariables().get('e_a_0') as tf.Variable;
    const P = coda.namedVariables().get('e_p_0') as tf.Variable;
    const q = tf.tensor2d([
      [0.5, -1, 2, 0.1, 0.3, 1],
      [1, 1, 1, 1, 1, 1],
    ]);
    const qh = q.arraySync();
    const kh = K.arraySync() as number[][];
    const ah = A.arraySync() as number[][];
    const ph = P.arraySync() as number[][][];
    tf.tidy(() => {
      const sel = coda.select(q, { training: false });
      const expKey = qh.map((row) => {
        const alpha = kh.map((k, i) => hostCos(row.map((v, d) => v * ((ah[i] as number[])[d] as number)), k));
        return Array.from({ length: D }, (_, d) => alpha.reduce((s, a, i) => s + a * ((ph[i] as number[][])[0] as number[])[d]!, 0));
      });
      expectClose(sel.prefixes[0]?.key.dataSync() ?? [], expKey.flat(), { rtol: 1e-4, atol: 1e-5 });
    });
    const { grads } = tf.variableGrads(() => {
      const sel = coda.select(q, { training: true });
      return tf.add(tf.sum(tf.square(sel.prefixes[0]?.key as tf.Tensor)), tf.sum(sel.prefixes[0]?.value as tf.Tensor)) as tf.Scalar;
    }, [K, A, P]);
    for (const v of [K, A, P]) {
      const g = tf.tidy(() => tf.reshape(grads[v.name] as tf.Tensor, [4, -1]).arraySync() as number[][]);
      expect(g.slice(0, 2).flat().every((x) => x === 0)).toBe(true); // past task rows: exactly zero
      expect(g.slice(2).flat().some((x) => x !== 0)).toBe(true); // current task rows learn
    }
    tf.dispose([q, ...Object.values(grads)]);
  });

  it('adds the orthogonality penalty only when μ > 0 and in training', () => {
    const coda = new CodaPrompt(D, DQ, { poolSize: 4, length: 2, orthoMu: 0.5, layers: [0], numTasks: 2 }, Rng.fromSeed(9));
    disposers.push(coda);
    tf.tidy(() => {
      const q = tf.ones([2, DQ]) as tf.Tensor2D;
      // rows [0,2) are orthonormal after init ⇒ penalty 0 at task 0
      expect(coda.select(q, { training: true }).keyLoss?.dataSync()[0]).toBeCloseTo(0, 5);
      expect(coda.select(q, { training: false }).keyLoss).toBeUndefined();
    });
  });
});

describe('CL method registry', () => {
  it('creates every registered method with the paper defaults', () => {
    expect(clMethodRegistry.keys().sort()).toEqual(['coda', 'dualprompt', 'l2p']);
    for (const key of clMethodRegistry.keys()) {
      const m = createClMethod(key, { embedDim: 8, keyDim: 400, numTasks: 10, rng: Rng.fromSeed(0), config: key === 'coda' ? { poolSize: 20 } : {} });
      disposers.push(m);
      expect(m.key).toBe(key);
      expect(m.trainableVariables().length).toBeGreaterThan(0);
    }
    expect(clMethodRegistry.markdownTable()).toContain('CODA-Prompt');
  });

  it('validates each method config against its schema and names the bad field', () => {
    const create = (key: string, config: Record<string, unknown>) => createClMethod(key, { embedDim: 8, keyDim: 6, numTasks: 2, rng: Rng.fromSeed(0), config });
    expect(() => create('l2p', { length: 3 })).toThrow(ConfigError);
    expect(() => create('l2p', { length: 3 })).toThrow(/l2p config[\s\S]*length[\s\S]*even/);
    expect(() => create('dualprompt', { gLayers: [-1] })).toThrow(/gLayers/);
    expect(() => create('coda', { poolSize: 4, orthoMu: -1 })).toThrow(/orthoMu/);
    expect(() => create('coda', { poolSize: 4, lenght: 4 })).toThrow(/lenght/); // unknown keys are refused, not ignored
    try {
      create('l2p', { topK: 0 });
    } catch (err) {
      expect((err as ConfigError).details?.field).toBe('topK');
    }
    expect(l2pConfigSchema.parse(L2P_DEFAULTS)).toEqual(L2P_DEFAULTS);
    expect(dualPromptConfigSchema.parse(DUAL_PROMPT_DEFAULTS)).toEqual(DUAL_PROMPT_DEFAULTS);
    expect(codaPromptConfigSchema.parse(CODA_PROMPT_DEFAULTS)).toEqual(CODA_PROMPT_DEFAULTS);
  });
});
