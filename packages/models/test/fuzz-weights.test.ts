import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { CheckpointError, DataFormatError, NonFiniteError, PromptKdError, Rng } from '@promptkd/core';
import {
  VisionTransformer,
  createModel,
  deserializeModel,
  exportStateDict,
  loadStateDict,
  parseSafetensors,
  serializeModel,
  type TorchNamedModel,
  type TorchTensor,
} from '@promptkd/models';

/**
 * Issue 11 fuzzing: model weights. Corrupted safetensors bytes and state dicts with wrong / missing / unexpected
 * names and shapes. Allowed: a typed error (DataFormatError for the bytes, ONE CheckpointError listing every name
 * problem) with the model untouched, or a load whose weights equal the file's. No tensor may leak.
 */

function models(): (TorchNamedModel & { dispose(): void })[] {
  return [
    createModel('bnCnn', { blocks: [2, 3], numClasses: 3, seed: 1 }),
    new VisionTransformer({ imageSize: 8, patchSize: 4, dim: 8, depth: 1, heads: 2, mlpRatio: 2, numClasses: 3, seed: 2 }),
  ];
}

/** Values of a model's variables (host copies), to check "untouched". */
function snapshot(m: TorchNamedModel): Map<string, Float32Array> {
  return new Map([...m.namedVariables()].map(([k, v]) => [k, v.dataSync().slice() as Float32Array]));
}

/** Equal bit for bit (NaN equals NaN, +0 differs from −0). */
function sameArray(a: ArrayLike<number>, b: ArrayLike<number>): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (!(Object.is(x, y) || (Number.isNaN(x) && Number.isNaN(y)))) return false;
  }
  return true;
}

function sameSnapshot(a: Map<string, Float32Array>, b: Map<string, Float32Array>): boolean {
  return a.size === b.size && [...a].every(([k, v]) => sameArray(v, b.get(k) ?? new Float32Array()));
}

function randomize(m: TorchNamedModel, seed: number): void {
  for (const v of m.namedVariables().values()) v.assign(tf.randomNormal(v.shape, 0, 1, 'float32', seed++));
}

describe('fuzz: loading model weights gives a typed error (model untouched) or exactly the file', () => {
  it('deserializeModel on 400 truncated / bit-flipped / oversized-header safetensors files', { timeout: 15_000 }, () => {
    const rng = Rng.fromSeed(311);
    let tried = 0;
    const outcomes: Record<string, number> = {};
    for (const [mi, m] of models().entries()) {
      randomize(m, 100 * mi);
      const valid = serializeModel(m);
      randomize(m, 100 * mi + 50); // the model differs from the file, so a load is visible
      const headerEnd = 8 + Number(new DataView(valid.buffer).getBigUint64(0, true));
      const before = tf.memory().numTensors;
      for (let i = 0; i < 200; i++) {
        let input: Uint8Array;
        const mode = i % 4;
        if (mode === 0) input = valid.slice(0, rng.int(0, valid.length - 1));
        else if (mode === 3) {
          input = valid.slice();
          const v = [2n ** 64n - 1n, 2n ** 63n, 100_000_001n, BigInt(valid.length), BigInt(rng.int(0, 1 << 30))][rng.int(0, 4)] as bigint;
          new DataView(input.buffer).setBigUint64(0, v, true);
        } else {
          input = valid.slice();
          // mode 1: anywhere (mostly tensor data); mode 2: inside the JSON header.
          const [lo, hi] = mode === 1 ? [0, valid.length] : [8, headerEnd];
          for (let f = rng.int(1, 4); f > 0; f--) {
            const pos = rng.int(lo, hi - 1);
            input[pos] = (input[pos] as number) ^ (1 << rng.int(0, 7));
          }
        }
        tried++;
        const state = snapshot(m);
        try {
          deserializeModel(m, input, { file: 'fuzz.safetensors' });
        } catch (e) {
          if (!(e instanceof PromptKdError)) throw e;
          // a bit flip into an exponent can make a finite weight NaN/Inf: refused before any weight changes
          expect(e instanceof DataFormatError || e instanceof CheckpointError || e instanceof NonFiniteError).toBe(true);
          expect(e.details.file).toBe('fuzz.safetensors');
          expect(sameSnapshot(snapshot(m), state)).toBe(true);
          outcomes[e.name] = (outcomes[e.name] ?? 0) + 1;
          continue;
        }
        // Loaded: the model now holds exactly the file's tensors (PyTorch layout).
        const file = parseSafetensors(input);
        for (const [name, t] of exportStateDict(m)) {
          expect(t.shape).toEqual(file.tensors.get(name)?.shape);
          expect(sameArray(t.data, file.tensors.get(name)?.data ?? [])).toBe(true);
        }
        outcomes.loaded = (outcomes.loaded ?? 0) + 1;
      }
      expect(tf.memory().numTensors).toBe(before);
      m.dispose();
    }
    expect(tried).toBe(400);
    expect(outcomes.DataFormatError).toBeGreaterThan(150);
    expect(outcomes.loaded).toBeGreaterThan(20);
    console.log(`[fuzz] deserializeModel (bytes): ${tried} inputs tried (${JSON.stringify(outcomes)})`);
  });

  it('loadStateDict on 300 state dicts with missing, unexpected, renamed and reshaped entries: one CheckpointError', { timeout: 15_000 }, () => {
    const rng = Rng.fromSeed(312);
    let tried = 0;
    for (const [mi, m] of models().entries()) {
      randomize(m, 7 + mi);
      const good = exportStateDict(m);
      const names = [...good.keys()];
      const before = tf.memory().numTensors;
      for (let i = 0; i < 150; i++) {
        const dict = new Map<string, TorchTensor>(good);
        const missing = new Set<string>();
        const unexpected = new Set<string>();
        const mismatched = new Set<string>();
        for (let e = rng.int(1, 3); e > 0; e--) {
          const name = names[rng.int(0, names.length - 1)] as string;
          const t = good.get(name) as TorchTensor;
          const kind = rng.int(0, 3);
          if (kind === 0 && dict.has(name)) {
            dict.delete(name);
            missing.add(name);
            mismatched.delete(name);
          } else if (kind === 1) {
            const extra = `${name}.extra${rng.int(0, 9)}`;
            dict.set(extra, t);
            unexpected.add(extra);
          } else if (kind === 2 && dict.has(name)) {
            const renamed = name.includes('.') ? name.replace(/\.(\w+)$/, '.x$1') : `x${name}`;
            dict.delete(name);
            dict.set(renamed, t);
            missing.add(name);
            mismatched.delete(name);
            unexpected.add(renamed);
          } else if (dict.has(name)) {
            // Same values, wrong shape: an extra unit dim, a dropped dim, or one dim off by one.
            const s = [...t.shape];
            const shape = rng.random() < 0.4 ? [...s, 1] : s.length > 1 && rng.random() < 0.5 ? [s.reduce((a, b) => a * b, 1)] : s.map((d, j) => (j === 0 ? d + 1 : d));
            dict.set(name, { shape: shape.length === s.length && shape.every((d, j) => d === s[j]) ? [...s, 1] : shape, data: t.data });
            mismatched.add(name);
          }
        }
        if (missing.size + unexpected.size + mismatched.size === 0) continue;
        tried++;
        const state = snapshot(m);
        let errors = 0;
        try {
          loadStateDict(m, dict, { file: `dict-${i}` });
        } catch (e) {
          errors++;
          expect(e).toBeInstanceOf(CheckpointError);
          const d = (e as CheckpointError).details as { missing: string[]; unexpected: string[]; mismatched: { name: string }[]; file: string };
          expect(d.file).toBe(`dict-${i}`);
          expect(new Set(d.missing)).toEqual(missing);
          expect(new Set(d.unexpected)).toEqual(unexpected);
          expect(new Set(d.mismatched.map((x) => x.name))).toEqual(mismatched);
        }
        expect(errors).toBe(1);
        expect(sameSnapshot(snapshot(m), state)).toBe(true);
      }
      // The intact dict still loads (and the same dict through bytes).
      expect(loadStateDict(m, good).missing).toEqual([]);
      expect(tf.memory().numTensors).toBe(before);
      m.dispose();
    }
    expect(tried).toBeGreaterThan(250);
    console.log(`[fuzz] loadStateDict (names/shapes): ${tried} inputs tried (all rejected with one CheckpointError)`);
  });
});
