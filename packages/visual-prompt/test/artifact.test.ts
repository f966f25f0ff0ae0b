import * as tf from '@tensorflow/tfjs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointError, DataFormatError } from '@promptkd/core';
import {
  SegmentedPrompt,
  VERSION,
  decodePromptArtifact,
  decodeSafetensors,
  encodePromptArtifact,
  encodeSafetensors,
  loadPromptArtifact,
  savePromptArtifact,
  type PromptArtifactMetadata,
} from '@promptkd/visual-prompt/node';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'promptkd-vp-'));
  dirs.push(d);
  return d;
}
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

function trainedSegmented(): SegmentedPrompt {
  const p = new SegmentedPrompt({ sizes: [4, 6, 10] });
  let seed = 3;
  for (const v of p.namedVariables().values()) v.assign(tf.randomNormal(v.shape, 0, 1, 'float32', seed++));
  return p;
}

/** Rewrites the embedded metadata of an artifact. */
function withMetadata(bytes: Uint8Array, edit: (m: PromptArtifactMetadata) => unknown): Uint8Array {
  const { tensors, metadata } = decodeSafetensors(bytes);
  const meta = JSON.parse(metadata.promptkd as string) as PromptArtifactMetadata;
  return encodeSafetensors(tensors, { ...metadata, promptkd: JSON.stringify(edit(meta)) });
}

describe('safetensors', () => {
  it('round-trips float32 tensors and metadata; header is 8-byte aligned', () => {
    const tensors = new Map([
      ['b', { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) }],
      ['a', { shape: [1], data: Float32Array.from([-0.25]) }],
    ]);
    const bytes = encodeSafetensors(tensors, { note: 'hi' });
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const back = decodeSafetensors(bytes);
    expect(back.metadata).toEqual({ note: 'hi' });
    expect(back.tensors.get('b')?.shape).toEqual([2, 3]);
    expect(Array.from(back.tensors.get('b')?.data ?? [])).toEqual([1, 2, 3, 4, 5, 6.5]);
    expect(Array.from(back.tensors.get('a')?.data ?? [])).toEqual([-0.25]);
  });

  it('rejects truncated or corrupt files with DataFormatError', () => {
    const bytes = encodeSafetensors(new Map([['a', { shape: [4], data: new Float32Array(4) }]]));
    expect(() => decodeSafetensors(bytes.subarray(0, 5), 'x.safetensors')).toThrow(DataFormatError);
    expect(() => decodeSafetensors(bytes.subarray(0, bytes.length - 4))).toThrow(/data_offsets/);
    const bad = bytes.slice();
    bad[8] = 0x7b + 1; // break the JSON
    expect(() => decodeSafetensors(bad)).toThrow(/JSON/);
    // Integer tensors are not prompt parameters (hand-built I32 file).
    const header = new TextEncoder().encode(JSON.stringify({ a: { dtype: 'I32', shape: [1], data_offsets: [0, 4] } }));
    const int = new Uint8Array(8 + header.length + 4);
    new DataView(int.buffer).setBigUint64(0, BigInt(header.length), true);
    int.set(header, 8);
    expect(() => decodeSafetensors(int, 'i.safetensors')).toThrow(/floating point/);
  });
});

describe('prompt artifacts', () => {
  it('save → load gives identical outputs and metadata', async () => {
    const dir = await tempDir();
    const p = trainedSegmented();
    const saved = await savePromptArtifact(join(dir, 'kiop'), p, {
      host: { name: 'tiny-host', normalization: { mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }, numClasses: 43 },
      labelMappings: { source: [3, 1, 40] },
      description: 'test prompt',
    });
    expect(saved.safetensorsPath.endsWith('prompt.safetensors')).toBe(true);
    const json = JSON.parse(await readFile(saved.metadataPath, 'utf8')) as PromptArtifactMetadata;
    expect(json.type).toBe('segmented');
    expect(json.segments.map((s) => s.pad)).toEqual([[1, 1], [2, 2]]);
    expect(json.tensors).toEqual({ 'segment1.theta': [6, 6, 3], 'segment2.theta': [10, 10, 3] });
    expect(json.promptkdVersion).toBe(VERSION);
    expect(Number.isNaN(Date.parse(json.createdAt))).toBe(false);

    const { prompt, metadata } = await loadPromptArtifact(join(dir, 'kiop'));
    expect(metadata.host?.name).toBe('tiny-host');
    expect(metadata.labelMappings).toEqual({ source: [3, 1, 40] });
    const x = tf.randomNormal([2, 4, 4, 3], 0, 1, 'float32', 1) as tf.Tensor4D;
    for (const upTo of [1, 2]) {
      const a = p.apply(x, { upTo });
      const b = (prompt as SegmentedPrompt).apply(x, { upTo });
      expect(Array.from(b.dataSync())).toEqual(Array.from(a.dataSync()));
      tf.dispose([a, b]);
    }
    x.dispose();
    p.dispose();
    prompt.dispose();
  });

  it('also saves to / loads from an explicit .safetensors path', async () => {
    const dir = await tempDir();
    const p = trainedSegmented();
    const saved = await savePromptArtifact(join(dir, 'my-prompt.safetensors'), p);
    expect(saved.metadataPath).toBe(join(dir, 'my-prompt.json'));
    const { prompt } = await loadPromptArtifact(saved.safetensorsPath);
    expect(prompt.parameterCount()).toEqual(p.parameterCount());
    p.dispose();
    prompt.dispose();
  });

  it('fails strictly: missing tensor, wrong shape, unexpected tensor, unknown type, bad file', async () => {
    const p = trainedSegmented();
    const { safetensors } = encodePromptArtifact(p);
    const reasonOf = (bytes: Uint8Array): unknown => {
      try {
        decodePromptArtifact(bytes).prompt.dispose();
      } catch (e) {
        return e instanceof CheckpointError ? e.details.reason : e;
      }
      return 'no error';
    };
    const { tensors, metadata } = decodeSafetensors(safetensors);
    const without = new Map(tensors);
    without.delete('segment2.theta');
    expect(reasonOf(encodeSafetensors(without, metadata))).toBe('missing-tensor');
    const reshaped = new Map(tensors);
    reshaped.set('segment1.theta', { shape: [3, 6, 6], data: (tensors.get('segment1.theta') as { data: Float32Array }).data });
    expect(reasonOf(encodeSafetensors(reshaped, metadata))).toBe('wrong-shape');
    const extra = new Map(tensors);
    extra.set('bogus', { shape: [1], data: new Float32Array(1) });
    expect(reasonOf(encodeSafetensors(extra, metadata))).toBe('unexpected-tensor');
    expect(reasonOf(withMetadata(safetensors, (m) => ({ ...m, type: 'nope' })))).toBe('unknown-type');
    expect(reasonOf(withMetadata(safetensors, (m) => ({ ...m, config: { sizes: [4] } })))).toBe('bad-config');
    expect(reasonOf(withMetadata(safetensors, (m) => ({ ...m, labelMappings: { s: [1, 1] } })))).toBe('bad-label-mapping');
    expect(reasonOf(withMetadata(safetensors, (m) => ({ ...m, formatVersion: 2 })))).toBeInstanceOf(DataFormatError);
    expect(reasonOf(encodeSafetensors(tensors))).toBeInstanceOf(DataFormatError);
    // missing file
    const dir = await tempDir();
    await expect(loadPromptArtifact(join(dir, 'nothing-here'))).rejects.toThrow(CheckpointError);
    // corrupt file on disk
    await writeFile(join(dir, 'bad.safetensors'), new Uint8Array([1, 2, 3]));
    await expect(loadPromptArtifact(join(dir, 'bad.safetensors'))).rejects.toThrow(DataFormatError);
    p.dispose();
  });

  it('extra tensors: stored with their shapes, checked and returned on load; the prompt stays strict', () => {
    const p = trainedSegmented();
    const bn = { shape: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6.5]) };
    const { safetensors, metadata } = encodePromptArtifact(p, { extraTensors: { 'bn.1.mean': bn } });
    expect(metadata.extraTensorShapes).toEqual({ 'bn.1.mean': [2, 3] });
    const loaded = decodePromptArtifact(safetensors);
    expect(loaded.extraTensors['bn.1.mean']!.shape).toEqual([2, 3]);
    expect(Array.from(loaded.extraTensors['bn.1.mean']!.data)).toEqual(Array.from(bn.data));
    loaded.prompt.dispose();
    expect(decodePromptArtifact(encodePromptArtifact(p).safetensors).extraTensors).toEqual({});
    const reasonOf = (bytes: Uint8Array): unknown => {
      try {
        decodePromptArtifact(bytes).prompt.dispose();
      } catch (e) {
        return e instanceof CheckpointError ? e.details.reason : e;
      }
      return 'no error';
    };
    const { tensors, metadata: raw } = decodeSafetensors(safetensors);
    const without = new Map(tensors);
    without.delete('bn.1.mean');
    expect(reasonOf(encodeSafetensors(without, raw))).toBe('missing-tensor');
    expect(reasonOf(withMetadata(safetensors, (m) => ({ ...m, extraTensorShapes: { 'bn.1.mean': [6] } })))).toBe('wrong-shape');
    // a tensor the metadata does not list is still refused
    expect(reasonOf(withMetadata(safetensors, (m) => ({ ...m, extraTensorShapes: undefined })))).toBe('unexpected-tensor');
    expect(() => encodePromptArtifact(p, { extraTensors: { 'segment1.theta': bn } })).toThrow(/name of one of the prompt's tensors/);
    p.dispose();
  });

  it('package version constant matches package.json', async () => {
    const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };
    expect(VERSION).toBe(pkg.version);
  });
});
