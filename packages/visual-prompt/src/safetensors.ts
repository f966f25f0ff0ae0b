import { DataFormatError } from '@promptkd/core';

/** One float32 tensor as stored in a safetensors file. */
export interface StoredTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** A decoded safetensors file. */
export interface SafetensorsContent {
  readonly tensors: ReadonlyMap<string, StoredTensor>;
  /** The `__metadata__` string map (empty when absent). */
  readonly metadata: Readonly<Record<string, string>>;
}

const MAX_HEADER = 100 * 1024 * 1024;

/**
 * Encodes float32 tensors (+ optional string metadata) in the safetensors format: an 8-byte little-endian header
 * length, a JSON header `{name: {dtype: "F32", shape, data_offsets: [begin, end]}, __metadata__}` padded with
 * spaces to a multiple of 8 bytes, then the raw little-endian data. Tensors are written in name order.
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, StoredTensor>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const names = [...tensors.keys()].sort();
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  let offset = 0;
  for (const name of names) {
    const t = tensors.get(name) as StoredTensor;
    const size = t.shape.reduce((a, b) => a * b, 1);
    if (size !== t.data.length) {
      throw new DataFormatError(`Tensor '${name}': shape [${t.shape.join(', ')}] does not match ${t.data.length} values.`, {
        name,
      });
    }
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + 4 * size] };
    offset += 4 * size;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let headerBytes = enc.encode(json);
  const pad = (8 - (headerBytes.length % 8)) % 8;
  if (pad) {
    json += ' '.repeat(pad);
    headerBytes = enc.encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.length), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.length;
  for (const name of names) {
    const t = tensors.get(name) as StoredTensor;
    for (let i = 0; i < t.data.length; i++) view.setFloat32(pos + 4 * i, t.data[i] as number, true);
    pos += 4 * t.data.length;
  }
  return out;
}

/**
 * Decodes a safetensors file holding float32 tensors. Throws {@link DataFormatError} (with `details.file`) on a
 * truncated file, a bad header, a non-F32 dtype or offsets outside the data.
 */
export function decodeSafetensors(bytes: Uint8Array, file = '<memory>'): SafetensorsContent {
  const fail = (what: string): never => {
    throw new DataFormatError(`${file} is not a valid safetensors file: ${what}.`, { file });
  };
  if (bytes.length < 8) fail('shorter than the 8-byte header length');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER || 8 + headerLength > bytes.length) fail(`header length ${headerLength} exceeds the file`);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength))) as Record<
      string,
      unknown
    >;
  } catch (e) {
    return fail(`header is not UTF-8 JSON (${(e as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail('header is not a JSON object');
  const dataStart = 8 + headerLength;
  const dataLength = bytes.length - dataStart;
  const tensors = new Map<string, StoredTensor>();
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      if (typeof entry !== 'object' || entry === null) fail('__metadata__ is not an object');
      metadata = Object.fromEntries(Object.entries(entry as object).map(([k, v]) => [k, String(v)]));
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (e.dtype !== 'F32') fail(`tensor '${name}' has dtype ${String(e.dtype)}; only F32 is supported here`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0)) fail(`tensor '${name}' has a bad shape`);
    const offsets = e.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isInteger(d))) {
      fail(`tensor '${name}' has bad data_offsets`);
    }
    const [begin, end] = offsets as [number, number];
    const shape = e.shape as number[];
    const size = shape.reduce((a, b) => a * b, 1);
    if (begin < 0 || end > dataLength || end - begin !== 4 * size) {
      fail(`tensor '${name}' data_offsets [${begin}, ${end}] do not fit its shape or the file (data ${dataLength} bytes)`);
    }
    const data = new Float32Array(size);
    for (let i = 0; i < size; i++) data[i] = view.getFloat32(dataStart + begin + 4 * i, true);
    tensors.set(name, { shape, data });
  }
  return { tensors, metadata };
}
