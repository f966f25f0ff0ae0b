import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { DataFormatError } from '@promptkd/core';
import { SAFETENSORS_MAX_HEADER_BYTES, decodeSafetensors, encodeSafetensors, rawToTensors, tensorsToRaw } from '@promptkd/experiments';

/** Builds a safetensors file by hand (independent of the encoder). */
function handMade(entries: { name: string; dtype: string; shape: number[]; bytes: number[] }[]): Uint8Array {
  const header: Record<string, unknown> = {};
  let off = 0;
  for (const e of entries) {
    header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [off, off + e.bytes.length] };
    off += e.bytes.length;
  }
  const json = Buffer.from(JSON.stringify(header));
  const out = Buffer.alloc(8 + json.length + off);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  let pos = 8 + json.length;
  for (const e of entries) for (const b of e.bytes) out[pos++] = b;
  return out;
}

describe('safetensors codec', () => {
  it('round-trips float32, int32 and bool tensors with metadata', async () => {
    const t = { w: tf.tensor2d([[1.5, -2], [3, 4e-8]]), i: tf.tensor1d([-7, 2147483647], 'int32'), b: tf.tensor1d([true, false, true], 'bool'), s: tf.scalar(3) };
    const bytes = encodeSafetensors(await tensorsToRaw(t), { format: 'x' });
    const headerLen = Number(Buffer.from(bytes).readBigUInt64LE(0));
    expect(headerLen % 8).toBe(0);
    const header = JSON.parse(Buffer.from(bytes.subarray(8, 8 + headerLen)).toString());
    // Sorted by name: b (3 bytes), i (8), s (4), w (16).
    expect(header.w).toEqual({ dtype: 'F32', shape: [2, 2], data_offsets: [15, 31] });
    expect(header.__metadata__).toEqual({ format: 'x' });
    const back = decodeSafetensors(bytes);
    expect(back.metadata).toEqual({ format: 'x' });
    const tensors = rawToTensors(back.tensors);
    for (const k of Object.keys(t) as (keyof typeof t)[]) {
      expect(tensors[k]?.dtype).toBe(t[k].dtype);
      expect(tensors[k]?.shape).toEqual(t[k].shape);
      expect(Array.from(await tensors[k]!.data())).toEqual(Array.from(await t[k].data()));
    }
    tf.dispose([Object.values(t), Object.values(tensors)]);
  });

  it('reads I64 and U8 as int32 and F16 as float32 (full dtype coverage and fuzzing: @promptkd/core tests)', () => {
    const i64 = [...Buffer.from(new BigInt64Array([-5n, 7n]).buffer)];
    const r = decodeSafetensors(
      handMade([
        { name: 'h', dtype: 'F16', shape: [2], bytes: [0x00, 0x3c, 0x00, 0x7c] },
        { name: 'l', dtype: 'I64', shape: [2], bytes: i64 },
        { name: 'u', dtype: 'U8', shape: [1, 2], bytes: [0, 255] },
      ]),
    ).tensors;
    expect([r.h!.dtype, ...Array.from(r.h!.data)]).toEqual(['float32', 1, Number.POSITIVE_INFINITY]);
    expect([r.l!.dtype, ...Array.from(r.l!.data)]).toEqual(['int32', -5, 7]);
    expect([r.u!.dtype, ...Array.from(r.u!.data)]).toEqual(['int32', 0, 255]);
    expect(() => decodeSafetensors(new Uint8Array(4), 'x.safetensors')).toThrow(DataFormatError);
    expect(SAFETENSORS_MAX_HEADER_BYTES).toBe(100_000_000);
  });

  it('refuses to encode inconsistent data and reserved names', () => {
    expect(() => encodeSafetensors({ a: { dtype: 'float32', shape: [3], data: new Float32Array(2) } })).toThrow(DataFormatError);
    expect(() => encodeSafetensors({ __metadata__: { dtype: 'float32', shape: [1], data: new Float32Array(1) } })).toThrow(/reserved|__metadata__/);
  });
});
