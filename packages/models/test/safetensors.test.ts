import { describe, expect, it } from 'vitest';
import { DataFormatError } from '@promptkd/core';
import { parseSafetensors, serializeSafetensors, readSafetensors, writeSafetensors } from '@promptkd/models/node';
import { fixturePath } from '@promptkd/testing';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixtureBytes } from './helpers.js';

/** Hand-builds a safetensors buffer with arbitrary dtype payloads. */
function build(header: Record<string, unknown>, data: Uint8Array): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

describe('safetensors', () => {
  it('reads the PyTorch-written fixture with metadata', () => {
    const f = parseSafetensors(fixtureBytes(import.meta.url, 'bn-cnn.safetensors'), 'bn-cnn.safetensors');
    expect([...f.tensors.keys()]).toContain('0.weight');
    expect(f.tensors.get('0.weight')?.shape).toEqual([4, 3, 3, 3]);
    expect(f.tensors.get('8.bias')?.data.length).toBe(3);
    expect(f.metadata.layout).toBe('PyTorch (OIHW)');
  });

  it('round-trips F32 with an 8-byte aligned header and metadata', () => {
    const bytes = serializeSafetensors({ b: { shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }, a: { shape: [], data: [7.5] } }, { note: 'x' });
    const headerLen = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect((8 + headerLen) % 8).toBe(0);
    const f = parseSafetensors(bytes);
    expect(Array.from(f.tensors.get('b')?.data ?? [])).toEqual([1, 2, 3, 4, 5, 6]);
    expect(f.tensors.get('a')?.shape).toEqual([]);
    expect(Array.from(f.tensors.get('a')?.data ?? [])).toEqual([7.5]);
    expect(f.metadata).toEqual({ note: 'x' });
  });

  it('decodes other dtypes to float32 and keeps the stored dtype (full dtype coverage: @promptkd/core tests)', () => {
    const f = parseSafetensors(build({
      h: { dtype: 'F16', shape: [2], data_offsets: [0, 4] },
      n: { dtype: 'I64', shape: [1], data_offsets: [4, 12] },
    }, new Uint8Array([0x00, 0x3c, 0x00, 0xc0, 5, 0, 0, 0, 0, 0, 0, 0])));
    expect(f.tensors.get('h')).toMatchObject({ dtype: 'F16', data: new Float32Array([1, -2]) });
    expect(f.tensors.get('n')).toMatchObject({ dtype: 'I64', data: new Float32Array([5]) });
  });

  it('throws DataFormatError naming the file for truncated or corrupt input (fuzzing: @promptkd/core tests)', () => {
    const good = fixtureBytes(import.meta.url, 'bn-cnn.safetensors');
    for (const c of [good.subarray(0, 5), good.subarray(0, good.length - 10)]) {
      let err: unknown;
      try {
        parseSafetensors(c, 'model.safetensors');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(DataFormatError);
      expect((err as Error).message).toContain('model.safetensors');
      expect((err as DataFormatError).details.file).toBe('model.safetensors');
    }
  });

  it('writes and reads files on disk', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'st-'));
    const path = join(dir, 'sub', 'w.safetensors');
    await writeSafetensors(path, new Map([['w', { shape: [2], data: new Float32Array([0.25, -1]) }]]), { k: 'v' });
    const f = await readSafetensors(path);
    expect(Array.from(f.tensors.get('w')?.data ?? [])).toEqual([0.25, -1]);
    expect(f.metadata.k).toBe('v');
    await expect(readSafetensors(fixturePath(import.meta.url, 'tiny-vit.json'))).rejects.toBeInstanceOf(DataFormatError);
  });
});
