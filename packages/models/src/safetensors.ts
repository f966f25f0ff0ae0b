import { DataFormatError } from '@promptkd/core';

/** Element types a safetensors file may declare. All are read (converted to float32); F32 is written. */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

const DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** One tensor of a safetensors file, decoded to float32 (row-major, the file's own layout). */
export interface SafetensorsEntry {
  /** dtype as stored in the file. */
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** A decoded safetensors file: tensors by name plus the optional `__metadata__` string map. */
export interface SafetensorsFile {
  readonly tensors: ReadonlyMap<string, SafetensorsEntry>;
  readonly metadata: Readonly<Record<string, string>>;
}

/** A tensor to write: float32 values in row-major order and its shape. */
export interface SafetensorsInput {
  readonly shape: readonly number[];
  readonly data: Float32Array | readonly number[];
}

function fail(file: string, what: string, details: Record<string, unknown> = {}): never {
  throw new DataFormatError(
    `Cannot read safetensors file '${file}': ${what}. The file is truncated, corrupt or not a safetensors file; ` +
      're-export it (e.g. `safetensors.torch.save_file(model.state_dict(), path)`) or download it again.',
    { file, ...details },
  );
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function decode(bytes: Uint8Array, dtype: SafetensorsDtype, count: number): Float32Array {
  // Copy into an aligned buffer first: offsets inside a safetensors file are not guaranteed to be aligned.
  const copy = bytes.slice();
  const buf = copy.buffer;
  switch (dtype) {
    case 'F32':
      return new Float32Array(buf, 0, count);
    case 'F64':
      return Float32Array.from(new Float64Array(buf, 0, count));
    case 'F16': {
      const u = new Uint16Array(buf, 0, count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = halfToFloat(u[i] as number);
      return out;
    }
    case 'BF16': {
      const u = new Uint16Array(buf, 0, count);
      const bits = new Uint32Array(count);
      for (let i = 0; i < count; i++) bits[i] = (u[i] as number) << 16;
      return new Float32Array(bits.buffer);
    }
    case 'I64': {
      const v = new BigInt64Array(buf, 0, count);
      const out = new Float32Array(count);
      for (let i = 0; i < count; i++) out[i] = Number(v[i]);
      return out;
    }
    case 'I32':
      return Float32Array.from(new Int32Array(buf, 0, count));
    case 'I16':
      return Float32Array.from(new Int16Array(buf, 0, count));
    case 'I8':
      return Float32Array.from(new Int8Array(buf, 0, count));
    case 'U8':
    case 'BOOL':
      return Float32Array.from(new Uint8Array(buf, 0, count));
  }
}

/**
 * Parses a safetensors byte buffer (8-byte little-endian header length, JSON header, raw data).
 * F32/F16/BF16 (and F64, integer types) are decoded to float32.
 *
 * @param bytes — the whole file.
 * @param file — a name for error messages (a path, URL or label).
 * @throws DataFormatError naming `file` when the buffer is truncated or the header is inconsistent.
 */
export function parseSafetensors(bytes: Uint8Array, file = '<buffer>'): SafetensorsFile {
  if (bytes.byteLength < 8) fail(file, `only ${bytes.byteLength} bytes, the 8-byte header length is missing`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLen = Number(view.getBigUint64(0, true));
  if (headerLen <= 0 || 8 + headerLen > bytes.byteLength) {
    fail(file, `header length ${headerLen} does not fit in ${bytes.byteLength} bytes`, { headerLen });
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLen)));
  } catch (err) {
    fail(file, `the JSON header does not parse (${err instanceof Error ? err.message : String(err)})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail(file, 'the header is not a JSON object');
  const dataStart = 8 + headerLen;
  const dataLen = bytes.byteLength - dataStart;
  const tensors = new Map<string, SafetensorsEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null) fail(file, '`__metadata__` is not an object');
      metadata = Object.fromEntries(Object.entries(raw as Record<string, unknown>).map(([k, v]) => [k, String(v)]));
      continue;
    }
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    const dtype = info.dtype as SafetensorsDtype;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
      fail(file, `tensor '${name}' has unsupported dtype ${JSON.stringify(info.dtype)}`, { tensor: name });
    }
    const shape = info.shape;
    const offsets = info.data_offsets;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
      fail(file, `tensor '${name}' has an invalid shape`, { tensor: name });
    }
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isInteger(d) && d >= 0)) {
      fail(file, `tensor '${name}' has invalid data_offsets`, { tensor: name });
    }
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    if (end < begin || end - begin !== count * DTYPE_BYTES[dtype]) {
      fail(file, `tensor '${name}' spans ${end - begin} bytes but ${dtype}${JSON.stringify(shape)} needs ${count * DTYPE_BYTES[dtype]}`, { tensor: name });
    }
    if (end > dataLen) {
      fail(file, `tensor '${name}' ends at byte ${end} of a ${dataLen}-byte data section`, { tensor: name });
    }
    tensors.set(name, {
      dtype,
      shape: shape as number[],
      data: decode(bytes.subarray(dataStart + begin, dataStart + end), dtype, count),
    });
  }
  return { tensors, metadata };
}

/**
 * Serializes float32 tensors to safetensors bytes (dtype F32, header padded with spaces so the data
 * section starts on an 8-byte boundary). Tensors are written in sorted name order.
 *
 * @param metadata — string map stored as `__metadata__`.
 */
export function serializeSafetensors(
  tensors: ReadonlyMap<string, SafetensorsInput> | Readonly<Record<string, SafetensorsInput>>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const entries = (tensors instanceof Map ? [...tensors.entries()] : Object.entries(tensors)) as [string, SafetensorsInput][];
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  let offset = 0;
  for (const [name, t] of entries) {
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new DataFormatError(`Tensor '${name}' has ${t.data.length} values but shape [${t.shape.join(', ')}] needs ${count}.`, { tensor: name });
    }
    header[name] = { dtype: 'F32', shape: [...t.shape], data_offsets: [offset, offset + count * 4] };
    offset += count * 4;
  }
  let json = JSON.stringify(header);
  const enc = new TextEncoder();
  let headerBytes = enc.encode(json);
  const pad = (8 - (headerBytes.byteLength % 8)) % 8;
  if (pad) {
    json += ' '.repeat(pad);
    headerBytes = enc.encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.byteLength;
  for (const [, t] of entries) {
    const f = t.data instanceof Float32Array ? t.data : Float32Array.from(t.data);
    out.set(new Uint8Array(f.buffer, f.byteOffset, f.byteLength), pos);
    pos += f.byteLength;
  }
  return out;
}

/** Reads and parses a safetensors file from disk (Node). */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  const { readFile } = await import('node:fs/promises');
  const bytes = await readFile(path);
  return parseSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

/** Writes a safetensors file atomically (temp file + rename) (Node). */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, SafetensorsInput> | Readonly<Record<string, SafetensorsInput>>,
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  const { writeFile, rename, mkdir } = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  await writeFile(tmp, serializeSafetensors(tensors, metadata));
  await rename(tmp, path);
}
