import * as tf from '@tensorflow/tfjs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PromptKdError, Rng } from '@promptkd/core';
import {
  createPrompt,
  decodePromptArtifact,
  decodeSafetensors,
  encodePromptArtifact,
  encodeSafetensors,
  loadPromptArtifact,
  promptRegistry,
  type LoadedPromptArtifact,
} from '@promptkd/visual-prompt/node';

/**
 * Issue 11 fuzzing: prompt artifacts. Seeded random truncation, bit flips, oversized header lengths and hostile
 * metadata values; the only allowed outcomes are a typed PromptKdError or a prompt whose tensors equal the file's —
 * and no tensor may be left behind either way.
 */

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** One valid artifact per registered prompt type (the registry's example configs), with random values. */
function validArtifacts(): { key: string; bytes: Uint8Array }[] {
  return promptRegistry.keys().map((key, k) => {
    const p = createPrompt(key, promptRegistry.get(key).create.example);
    let seed = 10 * k;
    for (const v of p.namedVariables().values()) v.assign(tf.randomNormal(v.shape, 0, 1, 'float32', seed++));
    const { safetensors } = encodePromptArtifact(p, { host: { name: 'h', numClasses: 10 }, labelMappings: { s: [0, 3, 5] } });
    p.dispose();
    return { key, bytes: safetensors };
  });
}

function flipBits(rng: Rng, bytes: Uint8Array, lo: number, hi: number): Uint8Array {
  const b = bytes.slice();
  const flips = rng.int(1, 4);
  for (let f = 0; f < flips; f++) {
    const pos = rng.int(lo, Math.max(lo, hi - 1));
    b[pos] = (b[pos] as number) ^ (1 << rng.int(0, 7));
  }
  return b;
}

const HOSTILE_VALUES: unknown[] = [1e6, 2 ** 31, -1, 0, 1.5, Number.MAX_SAFE_INTEGER, null, 'x', [], {}, [1e9, 1e9], true];

/** Replaces one random leaf of a JSON value by a hostile one (or deletes it). */
function mutateJson(rng: Rng, value: unknown): unknown {
  if (Array.isArray(value)) {
    if (value.length === 0 || rng.random() < 0.2) return HOSTILE_VALUES[rng.int(0, HOSTILE_VALUES.length - 1)];
    const copy = [...value];
    const i = rng.int(0, copy.length - 1);
    copy[i] = mutateJson(rng, copy[i]);
    return copy;
  }
  if (value !== null && typeof value === 'object') {
    const keys = Object.keys(value);
    if (keys.length === 0 || rng.random() < 0.15) return HOSTILE_VALUES[rng.int(0, HOSTILE_VALUES.length - 1)];
    const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
    const k = keys[rng.int(0, keys.length - 1)] as string;
    if (rng.random() < 0.15) delete copy[k];
    else copy[k] = mutateJson(rng, copy[k]);
    return copy;
  }
  return HOSTILE_VALUES[rng.int(0, HOSTILE_VALUES.length - 1)];
}

/** A structurally valid safetensors file whose embedded metadata has one hostile field. */
function hostileMetadata(rng: Rng, bytes: Uint8Array): Uint8Array {
  const { tensors, metadata } = decodeSafetensors(bytes);
  const meta = JSON.parse(metadata.promptkd as string) as Record<string, unknown>;
  // Aim at the fields that drive allocation and validation most of the time.
  const field = (['config', 'config', 'config', 'type', 'formatVersion', 'labelMappings', 'host', 'state', 'tensors'] as const)[rng.int(0, 8)] as string;
  const mutated = rng.random() < 0.8 ? { ...meta, [field]: mutateJson(rng, meta[field] ?? {}) } : (mutateJson(rng, meta) as Record<string, unknown>);
  return encodeSafetensors(tensors, { ...metadata, promptkd: JSON.stringify(mutated) });
}

/** The loaded prompt must hold exactly the file's tensors. */
function expectCorrect(loaded: LoadedPromptArtifact, bytes: Uint8Array): void {
  const { tensors } = decodeSafetensors(bytes);
  const vars = loaded.prompt.namedVariables();
  expect(vars.size).toBe(tensors.size);
  for (const [name, v] of vars) {
    const t = tensors.get(name);
    expect(t?.shape).toEqual(v.shape);
    expect(Array.from(v.dataSync())).toEqual(Array.from(t?.data ?? []));
  }
}

describe('fuzz: prompt artifacts give a typed error or the right prompt, never a leak', () => {
  it('decodePromptArtifact on 560 mutated artifacts of every registered prompt type', { timeout: 15_000 }, () => {
    const valid = validArtifacts();
    const rng = Rng.fromSeed(2026);
    const perType = Math.ceil(560 / valid.length);
    const inputs: Uint8Array[] = [];
    for (const { bytes } of valid) {
      const headerEnd = 8 + Number(new DataView(bytes.buffer).getBigUint64(0, true));
      for (let i = 0; i < perType && inputs.length < 560; i++) {
        const mode = i % 5;
        if (mode === 0) inputs.push(bytes.slice(0, rng.int(0, bytes.length - 1)));
        else if (mode === 1) inputs.push(flipBits(rng, bytes, 0, bytes.length));
        else if (mode === 2) inputs.push(flipBits(rng, bytes, 8, headerEnd));
        else if (mode === 3) inputs.push(hostileMetadata(rng, bytes));
        else {
          const b = bytes.slice();
          const v = [2n ** 64n - 1n, 2n ** 63n, 100_000_001n, BigInt(bytes.length), BigInt(rng.int(0, 1 << 30))][rng.int(0, 4)] as bigint;
          new DataView(b.buffer).setBigUint64(0, v, true);
          inputs.push(b);
        }
      }
    }
    const before = tf.memory().numTensors;
    const outcomes = new Map<string, number>();
    for (const input of inputs) {
      let loaded: LoadedPromptArtifact | undefined;
      try {
        loaded = decodePromptArtifact(input, { file: 'fuzz.safetensors' });
      } catch (e) {
        if (!(e instanceof PromptKdError)) throw e;
        outcomes.set(e.name, (outcomes.get(e.name) ?? 0) + 1);
      }
      if (loaded) {
        expectCorrect(loaded, input);
        loaded.prompt.dispose();
        outcomes.set('loaded', (outcomes.get('loaded') ?? 0) + 1);
      }
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(inputs.length).toBe(560);
    // Every kind of outcome happens: the fuzzer reaches past the codec into the artifact checks.
    expect(outcomes.get('DataFormatError')).toBeGreaterThan(100);
    expect(outcomes.get('CheckpointError')).toBeGreaterThan(10);
    expect(outcomes.get('loaded')).toBeGreaterThan(10);
    console.log(`[fuzz] decodePromptArtifact: ${inputs.length} inputs tried (${JSON.stringify(Object.fromEntries(outcomes))})`);
  });

  it('loadPromptArtifact on 60 mutated files with mutated JSON sidecars', { timeout: 15_000 }, async () => {
    const valid = validArtifacts();
    const dir = await mkdtemp(join(tmpdir(), 'promptkd-vp-fuzz-'));
    dirs.push(dir);
    const rng = Rng.fromSeed(7);
    const before = tf.memory().numTensors;
    let tried = 0;
    let rejected = 0;
    for (let i = 0; i < 60; i++) {
      const { bytes } = valid[i % valid.length] as { bytes: Uint8Array };
      const { tensors, metadata } = decodeSafetensors(bytes);
      const meta = JSON.parse(metadata.promptkd as string) as unknown;
      // No embedded metadata: the sidecar is the only source, and it is mutated (or cut) too.
      const target = join(dir, `p${i}.safetensors`);
      const stripped = encodeSafetensors(tensors);
      await writeFile(target, i % 3 === 0 ? flipBits(rng, stripped, 0, stripped.length) : stripped);
      const sidecar = JSON.stringify(i % 2 === 0 ? mutateJson(rng, meta) : meta);
      await writeFile(join(dir, `p${i}.json`), i % 5 === 0 ? sidecar.slice(0, rng.int(0, sidecar.length)) : sidecar);
      tried++;
      try {
        const loaded = await loadPromptArtifact(target);
        loaded.prompt.dispose();
      } catch (e) {
        if (!(e instanceof PromptKdError)) throw e;
        rejected++;
      }
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(rejected).toBeGreaterThan(10);
    console.log(`[fuzz] loadPromptArtifact (file + sidecar): ${tried} inputs tried (${rejected} rejected)`);
  });
});
