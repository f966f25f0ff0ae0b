import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  DataFormatError,
  Rng,
  SAFETENSORS_MAX_HEADER_BYTES,
  decodeSafetensorsBytes,
  decodeSafetensorsHeader,
  encodeSafetensorsBytes,
} from '@promptkd/core';

/** Hand-builds a safetensors buffer (independent of the encoder; the header is NOT padded). */
function build(header: unknown, data: Uint8Array | number[] = [], headerLength?: bigint): Uint8Array {
  const h = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + h.length + data.length);
  new DataView(out.buffer).setBigUint64(0, headerLength ?? BigInt(h.length), true);
  out.set(h, 8);
  out.set(data, 8 + h.length);
  return out;
}

function fixture(): Uint8Array {
  // PyTorch-written (`safetensors.torch.save_file`), copied from /work/shared/fixtures.
  const b = readFileSync(new URL('./fixtures/bn-cnn.safetensors', import.meta.url));
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}

function errorOf(fn: () => unknown): DataFormatError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DataFormatError);
    return e as DataFormatError;
  }
  throw new Error('expected a DataFormatError, nothing was thrown');
}

describe('safetensors codec (@promptkd/core)', () => {
  it('reads the PyTorch-written fixture with its metadata', () => {
    const f = decodeSafetensorsBytes(fixture(), { file: 'bn-cnn.safetensors' });
    expect(f.tensors.get('0.weight')?.shape).toEqual([4, 3, 3, 3]);
    expect(f.tensors.get('0.weight')?.storedDtype).toBe('F32');
    expect(f.tensors.get('8.bias')?.data.length).toBe(3);
    expect(f.metadata.layout).toBe('PyTorch (OIHW)');
    const header = decodeSafetensorsHeader(fixture());
    expect(header.tensors.map((t) => t.name)).toEqual([...f.tensors.keys()]);
    expect(header.dataStart % 8).toBe(0);
  });

  it('round-trips F32, I32 and BOOL with metadata, sorted names and an 8-byte aligned header', () => {
    const bytes = encodeSafetensorsBytes(
      {
        w: { shape: [2, 2], data: new Float32Array([1.5, -2, 3, 4e-8]) },
        i: { dtype: 'int32', shape: [2], data: new Int32Array([-7, 2147483647]) },
        b: { dtype: 'bool', shape: [3], data: new Uint8Array([1, 0, 7]) },
        s: { shape: [], data: [3] },
        e: { shape: [0, 4], data: [] },
      },
      { format: 'x' },
    );
    const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerLength % 8).toBe(0);
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength))) as Record<string, unknown>;
    // Sorted: b (3 bytes), e (0), i (8), s (4), w (16).
    expect(Object.keys(header)).toEqual(['__metadata__', 'b', 'e', 'i', 's', 'w']);
    expect(header.w).toEqual({ dtype: 'F32', shape: [2, 2], data_offsets: [15, 31] });
    const back = decodeSafetensorsBytes(bytes, { numbers: 'native' });
    expect(back.metadata).toEqual({ format: 'x' });
    expect(back.tensors.get('w')).toMatchObject({ dtype: 'float32', storedDtype: 'F32', shape: [2, 2] });
    expect(Array.from(back.tensors.get('w')?.data ?? [])).toEqual(Array.from(new Float32Array([1.5, -2, 3, 4e-8])));
    expect(back.tensors.get('i')?.data).toEqual(new Int32Array([-7, 2147483647]));
    expect(back.tensors.get('b')).toMatchObject({ dtype: 'bool', data: new Uint8Array([1, 0, 1]) });
    expect(back.tensors.get('s')).toMatchObject({ shape: [], data: new Float32Array([3]) });
    expect(back.tensors.get('e')?.data.length).toBe(0);
    // The float32 view converts everything to float32.
    const f = decodeSafetensorsBytes(bytes);
    expect(f.tensors.get('i')?.data).toEqual(new Float32Array([-7, 2147483648]));
    expect(f.tensors.get('b')?.data).toEqual(new Float32Array([1, 0, 1]));
  });

  it('reads F16, BF16, F64, I64, U64, I16, U16, I8 and U8 written by other tools (unpadded header)', () => {
    const parts = [
      new Uint8Array(new Uint16Array([0x3c00, 0xc000, 0x3800, 0x7bff, 0x7c00, 0x0001]).buffer), // 1, -2, 0.5, 65504, +inf, 2^-24
      new Uint8Array(new Uint16Array([0x3f80, 0xc040]).buffer), // 1, -3
      new Uint8Array(new Float64Array([0.25]).buffer),
      new Uint8Array(new BigInt64Array([5n, -2n]).buffer),
      new Uint8Array(new BigUint64Array([9n]).buffer),
      new Uint8Array(new Int16Array([-300]).buffer),
      new Uint8Array(new Uint16Array([65535]).buffer),
      new Uint8Array([0xff]),
      new Uint8Array([0, 255]),
    ];
    const specs: [string, string, number[]][] = [
      ['h', 'F16', [6]], ['bf', 'BF16', [2]], ['d', 'F64', []], ['l', 'I64', [2]], ['ul', 'U64', [1]],
      ['s', 'I16', [1]], ['us', 'U16', [1]], ['c', 'I8', [1]], ['u', 'U8', [1, 2]],
    ];
    const header: Record<string, unknown> = {};
    let off = 0;
    specs.forEach(([name, dtype, shape], i) => {
      const len = (parts[i] as Uint8Array).length;
      header[name] = { dtype, shape, data_offsets: [off, off + len] };
      off += len;
    });
    const data = new Uint8Array(off);
    let pos = 0;
    for (const p of parts) {
      data.set(p, pos);
      pos += p.length;
    }
    const bytes = build(header, data);
    const f = decodeSafetensorsBytes(bytes).tensors;
    expect(Array.from(f.get('h')?.data ?? [])).toEqual([1, -2, 0.5, 65504, Number.POSITIVE_INFINITY, 2 ** -24]);
    expect(Array.from(f.get('bf')?.data ?? [])).toEqual([1, -3]);
    expect(Array.from(f.get('d')?.data ?? [])).toEqual([0.25]);
    expect(f.get('d')?.shape).toEqual([]);
    expect(Array.from(f.get('l')?.data ?? [])).toEqual([5, -2]);
    expect(f.get('l')?.storedDtype).toBe('I64');
    const n = decodeSafetensorsBytes(bytes, { numbers: 'native' }).tensors;
    expect(n.get('h')?.dtype).toBe('float32');
    for (const [name, values] of [['l', [5, -2]], ['ul', [9]], ['s', [-300]], ['us', [65535]], ['c', [-1]], ['u', [0, 255]]] as const) {
      expect(n.get(name)?.dtype).toBe('int32');
      expect(Array.from(n.get(name)?.data ?? [])).toEqual(values);
    }
  });

  it('rejects integers outside the int32 range in native mode (but converts them in float32 mode)', () => {
    const bytes = build({ l: { dtype: 'I64', shape: [1], data_offsets: [0, 8] } }, new Uint8Array(new BigInt64Array([2n ** 40n]).buffer));
    expect(errorOf(() => decodeSafetensorsBytes(bytes, { file: 'big.safetensors', numbers: 'native' })).message).toMatch(/int32 range/);
    expect(decodeSafetensorsBytes(bytes).tensors.get('l')?.data[0]).toBe(2 ** 40);
  });

  it('validates strictly and names the file in every DataFormatError', () => {
    const good = fixture();
    const f32 = { dtype: 'F32', shape: [1] };
    const cases: [string, Uint8Array, RegExp][] = [
      ['no length', good.subarray(0, 5), /8-byte header length/],
      ['header cut', good.subarray(0, 100), /header length/],
      ['data cut', good.subarray(0, good.length - 10), /data_offsets|data section/],
      ['trailing bytes', (() => { const b = new Uint8Array(good.length + 4); b.set(good); return b; })(), /cover/],
      ['bad utf8/JSON', (() => { const b = good.slice(); b[10] = 0xff; return b; })(), /JSON/],
      ['header too short', build({}, [], 1n), /header length 1/],
      ['header over the limit', build({}, [], BigInt(SAFETENSORS_MAX_HEADER_BYTES) + 1n), /limit/],
      ['huge header length', build({}, [], 2n ** 63n), /header length/],
      ['array header', build([1, 2]), /not an object/],
      ['null entry', build({ a: null }), /not an object/],
      ['unknown dtype', build({ a: { dtype: 'Q4', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /dtype/],
      ['negative dim', build({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /shape/],
      ['fractional dim', build({ a: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, new Uint8Array(4)), /shape/],
      ['size mismatch', build({ x: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, new Uint8Array(12)), /needs 12/],
      ['hostile shape', build({ x: { dtype: 'F32', shape: [1e9, 1e9], data_offsets: [0, 4] } }, new Uint8Array(4)), /needs/],
      ['hostile offset', build({ x: { ...f32, data_offsets: [0, 1e15] } }, new Uint8Array(4)), /data_offsets/],
      ['reversed offsets', build({ x: { ...f32, data_offsets: [4, 0] } }, new Uint8Array(4)), /data_offsets/],
      ['three offsets', build({ x: { ...f32, data_offsets: [0, 4, 8] } }, new Uint8Array(4)), /data_offsets/],
      ['overlap', build({ a: { ...f32, data_offsets: [0, 4] }, b: { ...f32, data_offsets: [0, 4] } }, new Uint8Array(8)), /overlap/],
      ['gap', build({ a: { ...f32, data_offsets: [4, 8] } }, new Uint8Array(8)), /gap/],
      ['metadata array', build({ __metadata__: [1] }), /__metadata__/],
      ['metadata number', build({ __metadata__: { k: 1 } }), /__metadata__\.k/],
    ];
    for (const [label, bytes, pattern] of cases) {
      const err = errorOf(() => decodeSafetensorsBytes(bytes, { file: 'model.safetensors' }));
      expect(err.message, label).toMatch(pattern);
      expect(err.message, label).toContain('model.safetensors');
      expect(err.details.file, label).toBe('model.safetensors');
    }
    // The default label when no file name is given.
    expect(errorOf(() => decodeSafetensorsBytes(new Uint8Array(3))).details.file).toBe('<buffer>');
    // An empty header and an empty data section are valid.
    expect(decodeSafetensorsBytes(build({})).tensors.size).toBe(0);
  });

  it('refuses to encode inconsistent data, reserved or bad names and non-string metadata', () => {
    expect(() => encodeSafetensorsBytes({ a: { shape: [3], data: new Float32Array(2) } })).toThrow(DataFormatError);
    expect(() => encodeSafetensorsBytes({ a: { shape: [-1], data: [] } })).toThrow(/shape/);
    expect(() => encodeSafetensorsBytes({ __metadata__: { shape: [1], data: [1] } })).toThrow(/reserved/);
    expect(() => encodeSafetensorsBytes([['a', { shape: [1], data: [1] }], ['a', { shape: [1], data: [2] }]])).toThrow(/twice/);
    expect(() => encodeSafetensorsBytes({}, { k: 1 as unknown as string })).toThrow(/must be a string/);
    // Map input works like a record.
    const m = encodeSafetensorsBytes(new Map([['z', { shape: [1], data: [2] }]]));
    expect(decodeSafetensorsBytes(m).tensors.get('z')?.data).toEqual(new Float32Array([2]));
  });

  it('fuzz: truncation, bit flips and hostile headers give a DataFormatError or a correct result (1000 inputs)', { timeout: 15_000 }, () => {
    const valid = encodeSafetensorsBytes(
      { w: { shape: [2, 3], data: [1, 2, 3, 4, 5, 6] }, i: { dtype: 'int32', shape: [4], data: [0, 1, 2, 3] }, b: { dtype: 'bool', shape: [2], data: [1, 0] } },
      { k: 'v' },
    );
    const rng = Rng.fromSeed(11);
    const inputs: Uint8Array[] = [];
    for (let n = 0; n < valid.length; n += 3) inputs.push(valid.slice(0, n));
    while (inputs.length < 880) {
      const b = valid.slice();
      const flips = rng.int(1, 4);
      for (let f = 0; f < flips; f++) {
        const pos = rng.int(0, b.length - 1);
        b[pos] = (b[pos] as number) ^ (1 << rng.int(0, 7));
      }
      inputs.push(b);
    }
    // Oversized / hostile header length fields on otherwise valid files.
    for (let k = 0; k < 40; k++) {
      const b = valid.slice();
      const v = [2n ** 63n, 2n ** 64n - 1n, BigInt(SAFETENSORS_MAX_HEADER_BYTES) + BigInt(k), BigInt(rng.int(0, 2 ** 31 - 1)), BigInt(valid.length + k)][k % 5] as bigint;
      new DataView(b.buffer).setBigUint64(0, v, true);
      inputs.push(b);
    }
    const hostile: unknown[] = [
      { a: { dtype: 'F32', shape: [1e9, 1e9], data_offsets: [0, 8] } },
      { a: { dtype: 'F32', shape: [2 ** 53], data_offsets: [0, 8] } },
      { a: { dtype: 'F32', shape: [1], data_offsets: [0, 1e15] } },
      { a: { dtype: 'C64', shape: [1], data_offsets: [0, 8] } },
      { a: { dtype: 'F32', shape: [-1], data_offsets: [0, 8] } },
      { a: { dtype: 'F32', shape: [2], data_offsets: [8, 0] } },
      { a: { dtype: 'F32', shape: '2', data_offsets: [0, 8] } },
      { a: { dtype: 'F32', shape: [2], data_offsets: ['0', '8'] } },
      { a: { dtype: 'F32', shape: [2], data_offsets: { 0: 0, 1: 8 } } },
      { a: { dtype: 'F32', shape: [2] } },
      { a: null },
      { a: 5 },
      { __metadata__: [1] },
      { __metadata__: { a: { b: 1 } } },
      { toString: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } },
      [1, 2],
      'str',
      null,
      42,
    ];
    for (const h of hostile) inputs.push(build(h, new Uint8Array(8)));
    while (inputs.length < 1000) inputs.push(new Uint8Array(Array.from({ length: rng.int(0, 64) }, () => rng.int(0, 255))));
    let rejected = 0;
    let accepted = 0;
    for (const input of inputs) {
      try {
        const r = decodeSafetensorsBytes(input, { file: 'fuzz.safetensors', numbers: rng.random() < 0.5 ? 'native' : 'float32' });
        // Accepted: every tensor's data length matches its shape.
        for (const t of r.tensors.values()) expect(t.data.length).toBe(t.shape.reduce((a, b) => a * b, 1));
        accepted++;
      } catch (e) {
        expect(e).toBeInstanceOf(DataFormatError);
        expect((e as DataFormatError).details.file).toBe('fuzz.safetensors');
        rejected++;
      }
    }
    expect(inputs.length).toBe(1000);
    expect(rejected).toBeGreaterThan(400);
    expect(accepted).toBeGreaterThan(0);
    console.log(`[fuzz] core safetensors decoder: ${inputs.length} inputs tried (${rejected} rejected, ${accepted} accepted)`);
  });
});
