import * as tf from '@tensorflow/tfjs';
import { DataFormatError } from '@promptkd/core';

/**
 * Minimal safetensors codec (https://github.com/huggingface/safetensors): an 8-byte little-endian header
 * length, a JSON header `{name: {dtype, shape, data_offsets}, __metadata__?: {string: string}}`, then the raw
 * little-endian tensor bytes. Written: F32, I32, BOOL. Read: F32, F16, BF16, F64 (→ float32), I8/U8/I16/U16/I32
 * and I64/U64 within ±2^53 (→ int32 when in range), BOOL.
 */

/** Largest header accepted when reading (the reference implementation's limit). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/** Plain typed-array form of a tensor, used by the codec without touching the engine. */
export interface RawTensor {
  readonly dtype: 'float32' | 'int32' | 'bool';
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array | Uint8Array;
}

const BYTES: Record<string, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, U64: 8, I32: 4, U32: 4, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1,
};

function fail(message: string, file: string | undefined): never {
  throw new DataFormatError(`${file ? `${file}: ` : ''}${message} The file is not a valid safetensors file (truncated or corrupt?).`, { file });
}

/** Encodes raw tensors (and optional string metadata) as safetensors bytes. */
export function encodeSafetensors(tensors: Readonly<Record<string, RawTensor>>, metadata: Record<string, string> = {}): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new DataFormatError("A tensor may not be named '__metadata__'.", { name });
    const t = tensors[name] as RawTensor;
    const dtype = t.dtype === 'float32' ? 'F32' : t.dtype === 'int32' ? 'I32' : 'BOOL';
    const nbytes = t.data.byteLength;
    const expected = t.shape.reduce((a, b) => a * b, 1) * (BYTES[dtype] as number);
    if (nbytes !== expected) {
      throw new DataFormatError(`Tensor '${name}' has ${nbytes} bytes of data but shape [${t.shape.join(', ')}] needs ${expected}.`, { name });
    }
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + nbytes] };
    offset += nbytes;
  }
  let json = Buffer.from(JSON.stringify(header), 'utf8');
  const pad = (8 - (json.length % 8)) % 8;
  if (pad) json = Buffer.concat([json, Buffer.alloc(pad, 0x20)]);
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  let pos = 8 + json.length;
  for (const name of names) {
    const t = tensors[name] as RawTensor;
    const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
    if (t.dtype === 'bool' || !LITTLE_ENDIAN) {
      if (!LITTLE_ENDIAN && t.dtype !== 'bool') throw new DataFormatError('Writing safetensors on a big-endian machine is not supported.');
      for (let i = 0; i < bytes.length; i++) out[pos + i] = bytes[i] ? 1 : 0;
    } else {
      out.set(bytes, pos);
    }
    pos += bytes.length;
  }
  return out;
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function copyBytes(src: DataView): ArrayBuffer {
  const buf = new ArrayBuffer(src.byteLength);
  new Uint8Array(buf).set(new Uint8Array(src.buffer, src.byteOffset, src.byteLength));
  return buf;
}

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * 2 ** -14 * (f / 1024);
  if (e === 31) return f ? Number.NaN : s * Number.POSITIVE_INFINITY;
  return s * 2 ** (e - 15) * (1 + f / 1024);
}

/** Decodes safetensors bytes; throws {@link DataFormatError} for anything malformed (never hangs, never over-allocates). */
export function decodeSafetensors(
  bytes: Uint8Array,
  file?: string,
): { tensors: Record<string, RawTensor>; metadata: Record<string, string> } {
  if (bytes.length < 8) fail(`only ${bytes.length} bytes, less than the 8-byte header length.`, file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(SAFETENSORS_MAX_HEADER_BYTES) || headerLen > BigInt(bytes.length - 8)) {
    fail(`header length ${headerLen} exceeds the file size (${bytes.length} bytes) or the ${SAFETENSORS_MAX_HEADER_BYTES}-byte limit.`, file);
  }
  const hl = Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset + 8, hl).toString('utf8'));
  } catch {
    fail('header is not valid JSON.', file);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) fail('header is not a JSON object.', file);
  const dataStart = 8 + hl;
  const dataLen = bytes.length - dataStart;
  const tensors: Record<string, RawTensor> = {};
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) fail('__metadata__ is not an object.', file);
      metadata = Object.fromEntries(Object.entries(entry as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
    if (e === null || typeof e !== 'object') fail(`entry '${name}' is not an object.`, file);
    const dtype = e.dtype;
    if (typeof dtype !== 'string' || !(dtype in BYTES)) fail(`tensor '${name}' has unsupported dtype ${JSON.stringify(dtype)}.`, file);
    const shape = e.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) fail(`tensor '${name}' has an invalid shape.`, file);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      fail(`tensor '${name}' has invalid data_offsets.`, file);
    }
    const [begin, end] = offs as [number, number];
    const size = (shape as number[]).reduce((a, b) => a * b, 1);
    const width = BYTES[dtype] as number;
    if (end < begin || end > dataLen || end - begin !== size * width) {
      fail(`tensor '${name}' data_offsets [${begin}, ${end}] do not match shape [${(shape as number[]).join(', ')}] (${dtype}) within ${dataLen} data bytes.`, file);
    }
    const src = new DataView(bytes.buffer, bytes.byteOffset + dataStart + begin, end - begin);
    tensors[name] = convert(name, dtype, shape as number[], size, src, file);
  }
  return { tensors, metadata };
}

function convert(name: string, dtype: string, shape: number[], n: number, src: DataView, file: string | undefined): RawTensor {
  switch (dtype) {
    case 'F32': {
      if (LITTLE_ENDIAN) return { dtype: 'float32', shape, data: new Float32Array(copyBytes(src)) };
      const d = new Float32Array(n);
      for (let i = 0; i < n; i++) d[i] = src.getFloat32(i * 4, true);
      return { dtype: 'float32', shape, data: d };
    }
    case 'F64': {
      const d = new Float32Array(n);
      for (let i = 0; i < n; i++) d[i] = src.getFloat64(i * 8, true);
      return { dtype: 'float32', shape, data: d };
    }
    case 'F16': {
      const d = new Float32Array(n);
      for (let i = 0; i < n; i++) d[i] = halfToFloat(src.getUint16(i * 2, true));
      return { dtype: 'float32', shape, data: d };
    }
    case 'BF16': {
      const d = new Float32Array(n);
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < n; i++) {
        tmp.setUint32(0, src.getUint16(i * 2, true) << 16);
        d[i] = tmp.getFloat32(0);
      }
      return { dtype: 'float32', shape, data: d };
    }
    case 'BOOL': {
      const d = new Uint8Array(n);
      for (let i = 0; i < n; i++) d[i] = src.getUint8(i) ? 1 : 0;
      return { dtype: 'bool', shape, data: d };
    }
    default: {
      if (dtype === 'I32' && LITTLE_ENDIAN) return { dtype: 'int32', shape, data: new Int32Array(copyBytes(src)) };
      const d = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        let v: number;
        switch (dtype) {
          case 'I8': v = src.getInt8(i); break;
          case 'U8': v = src.getUint8(i); break;
          case 'I16': v = src.getInt16(i * 2, true); break;
          case 'U16': v = src.getUint16(i * 2, true); break;
          case 'I32': v = src.getInt32(i * 4, true); break;
          case 'U32': v = src.getUint32(i * 4, true); break;
          case 'I64': v = Number(src.getBigInt64(i * 8, true)); break;
          default: v = Number(src.getBigUint64(i * 8, true)); break;
        }
        if (v > 2147483647 || v < -2147483648) fail(`tensor '${name}' (${dtype}) holds ${v}, outside the int32 range.`, file);
        d[i] = v;
      }
      return { dtype: 'int32', shape, data: d };
    }
  }
}

/** Reads the data of tf tensors (async, no engine tensors left behind) into {@link RawTensor}s. */
export async function tensorsToRaw(tensors: Readonly<Record<string, tf.Tensor>>): Promise<Record<string, RawTensor>> {
  const out: Record<string, RawTensor> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (t.isDisposed) throw new DataFormatError(`Tensor '${name}' is already disposed; save it before disposing it.`, { name });
    // Copied: some backends (cpu) hand out their own backing array.
    const data = await t.data();
    if (t.dtype === 'float32') out[name] = { dtype: 'float32', shape: t.shape, data: (data as Float32Array).slice() };
    else if (t.dtype === 'int32') out[name] = { dtype: 'int32', shape: t.shape, data: (data as Int32Array).slice() };
    else if (t.dtype === 'bool') out[name] = { dtype: 'bool', shape: t.shape, data: Uint8Array.from(data as Uint8Array) };
    else throw new DataFormatError(`Tensor '${name}' has dtype ${t.dtype}; only float32, int32 and bool can be saved.`, { name });
  }
  return out;
}

/** Creates tf tensors from {@link RawTensor}s. The caller owns (and must dispose) the result. */
export function rawToTensors(raw: Readonly<Record<string, RawTensor>>): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, r] of Object.entries(raw)) out[name] = tf.tensor(r.data, [...r.shape], r.dtype);
  return out;
}
