import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { DataFormatError, Rng } from '@promptkd/core';
import { decodeSafetensors, encodeSafetensors, rawToTensors, tensorsToRaw } from '@promptkd/experiments';

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

  it('reads F16, BF16, F64, I64 and U8 written by other tools', () => {
    const f16 = [0x00, 0x3c, 0x00, 0xc0, 0x00, 0x7c]; // 1, -2, +inf
    const bf16 = [0x80, 0x3f, 0x40, 0xc0]; // 1, -3
    const f64 = [...Buffer.from(new Float64Array([0.25]).buffer)];
    const i64 = [...Buffer.from(new BigInt64Array([-5n, 7n]).buffer)];
    const r = decodeSafetensors(
      handMade([
        { name: 'h', dtype: 'F16', shape: [3], bytes: f16 },
        { name: 'bf', dtype: 'BF16', shape: [2], bytes: bf16 },
        { name: 'd', dtype: 'F64', shape: [], bytes: f64 },
        { name: 'l', dtype: 'I64', shape: [2], bytes: i64 },
        { name: 'u', dtype: 'U8', shape: [1, 2], bytes: [0, 255] },
      ]),
    ).tensors;
    expect(Array.from(r.h!.data)).toEqual([1, -2, Number.POSITIVE_INFINITY]);
    expect(Array.from(r.bf!.data)).toEqual([1, -3]);
    expect(Array.from(r.d!.data)).toEqual([0.25]);
    expect(r.d!.shape).toEqual([]);
    expect([r.l!.dtype, ...Array.from(r.l!.data)]).toEqual(['int32', -5, 7]);
    expect([r.u!.dtype, ...Array.from(r.u!.data)]).toEqual(['int32', 0, 255]);
  });

  it('fuzz: truncation, bit flips and hostile headers only ever give DataFormatError (1000 inputs)', async () => {
    const w = tf.tensor2d([[1, 2, 3], [4, 5, 6]]);
    const valid = encodeSafetensors(await tensorsToRaw({ w, i: tf.tidy(() => tf.zeros([4], 'int32')) }), { k: 'v' });
    w.dispose();
    const rng = Rng.fromSeed(11);
    const inputs: Uint8Array[] = [];
    for (let n = 0; n < valid.length; n += 3) inputs.push(valid.slice(0, n));
    while (inputs.length < 900) {
      const b = valid.slice();
      const flips = rng.int(1, 4);
      for (let f = 0; f < flips; f++) {
        const pos = rng.int(0, b.length - 1);
        b[pos] = (b[pos] as number) ^ (1 << rng.int(0, 7));
      }
      inputs.push(b);
    }
    const hostile = [
      { a: { dtype: 'F32', shape: [1e9, 1e9], data_offsets: [0, 4] } },
      { a: { dtype: 'F32', shape: [1], data_offsets: [0, 1e15] } },
      { a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } },
      { a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } },
      { a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } },
      { a: null },
      { __metadata__: [1] },
      [1, 2],
    ];
    for (const h of hostile) {
      const json = Buffer.from(JSON.stringify(h));
      const b = Buffer.alloc(8 + json.length + 8);
      b.writeBigUInt64LE(BigInt(json.length), 0);
      json.copy(b, 8);
      inputs.push(b);
    }
    const huge = Buffer.alloc(16);
    huge.writeBigUInt64LE(2n ** 63n, 0);
    inputs.push(huge);
    while (inputs.length < 1000) inputs.push(new Uint8Array(Array.from({ length: rng.int(0, 64) }, () => rng.int(0, 255))));
    let rejected = 0;
    for (const input of inputs) {
      try {
        decodeSafetensors(input, 'fuzz.safetensors');
      } catch (e) {
        expect(e).toBeInstanceOf(DataFormatError);
        rejected++;
      }
    }
    expect(inputs.length).toBe(1000);
    expect(rejected).toBeGreaterThan(300);
  });

  it('refuses to encode inconsistent data and reserved names', () => {
    expect(() => encodeSafetensors({ a: { dtype: 'float32', shape: [3], data: new Float32Array(2) } })).toThrow(DataFormatError);
    expect(() => encodeSafetensors({ __metadata__: { dtype: 'float32', shape: [1], data: new Float32Array(1) } })).toThrow(/reserved|__metadata__/);
  });
});
