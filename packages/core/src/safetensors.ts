import { DataFormatError } from './errors.js';

/**
 * The one safetensors codec of promptkd (https://github.com/huggingface/safetensors), pure bytes, no engine:
 * an 8-byte little-endian header length N, an N-byte UTF-8 JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, __metadata__?: {string: string}}`, then the raw
 * little-endian tensor bytes. Offsets are relative to the data section.
 *
 * Read: F64, F32, F16, BF16, I64, U64, I32, U32, I16, U16, I8, U8, BOOL — either all converted to float32
 * (`numbers: 'float32'`) or to the nearest engine dtype (`numbers: 'native'`: floats → float32, integers → int32 when
 * every value fits, BOOL → 0/1 bytes). Written: F32, I32, BOOL, header padded with spaces so the data section starts
 * on an 8-byte boundary, tensors in sorted name order.
 *
 * Reading is strict (as the reference implementation): header length within bounds, a JSON object header, known
 * dtypes, non-negative integer shapes, `dtype × shape` bytes equal to each span, spans contiguous and
 * non-overlapping and covering the data section exactly, string-valued `__metadata__`. Any problem is a
 * {@link DataFormatError} whose message and `details.file` name the file. Nothing is allocated before the header is
 * validated, so hostile sizes cannot exhaust memory.
 */

/** Element types a safetensors file may declare (all readable). */
export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'U64' | 'I32' | 'U32' | 'I16' | 'U16' | 'I8' | 'U8' | 'BOOL';

/** Engine dtypes the codec converts to and writes from. */
export type SafetensorsValueDtype = 'float32' | 'int32' | 'bool';

/** Bytes per element of each stored dtype. */
export const SAFETENSORS_DTYPE_BYTES: Readonly<Record<SafetensorsDtype, number>> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, U64: 8, I32: 4, U32: 4, I16: 2, U16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Largest header accepted when reading (the reference implementation's limit, 100 MB). */
export const SAFETENSORS_MAX_HEADER_BYTES = 100_000_000;

/** Smallest valid header: `{}`. */
const MIN_HEADER_BYTES = 2;

/** One header entry, validated: where the tensor's bytes are inside the data section. */
export interface SafetensorsTensorInfo {
  readonly name: string;
  readonly dtype: SafetensorsDtype;
  readonly shape: readonly number[];
  /** `[begin, end)` byte span, relative to the data section. */
  readonly dataOffsets: readonly [number, number];
}

/** A validated header: entries in header order, metadata, and where the data section starts in the file. */
export interface SafetensorsHeader {
  readonly tensors: readonly SafetensorsTensorInfo[];
  readonly metadata: Readonly<Record<string, string>>;
  /** Absolute byte offset of the data section (8 + header length). */
  readonly dataStart: number;
}

/** A decoded tensor. `storedDtype` is the file's dtype, `dtype` the one of `data`. */
export interface SafetensorsTensor<D extends Float32Array | Int32Array | Uint8Array = Float32Array | Int32Array | Uint8Array> {
  readonly storedDtype: SafetensorsDtype;
  readonly dtype: SafetensorsValueDtype;
  readonly shape: readonly number[];
  readonly data: D;
}

/** A decoded file: tensors by name (header order) and the `__metadata__` string map (empty when absent). */
export interface SafetensorsContents<D extends Float32Array | Int32Array | Uint8Array = Float32Array | Int32Array | Uint8Array> {
  readonly tensors: ReadonlyMap<string, SafetensorsTensor<D>>;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Options of {@link decodeSafetensorsBytes}. */
export interface DecodeSafetensorsOptions {
  /** Name of the source (path, URL, label) used in error messages and `details.file`. Default `<buffer>`. */
  readonly file?: string;
}

/** A tensor to write. `dtype` defaults to float32; `data` is row-major and must hold `∏ shape` values. */
export interface SafetensorsWriteTensor {
  readonly dtype?: SafetensorsValueDtype;
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array | Uint8Array | readonly number[];
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function fail(file: string, what: string, details: Record<string, unknown> = {}): never {
  throw new DataFormatError(
    `Cannot read safetensors file '${file}': ${what}. The file is truncated, corrupt or not a safetensors file; ` +
      're-export it (e.g. `safetensors.torch.save_file(state_dict, path)`) or download it again.',
    { file, ...details },
  );
}

function isDtype(d: unknown): d is SafetensorsDtype {
  return typeof d === 'string' && Object.prototype.hasOwnProperty.call(SAFETENSORS_DTYPE_BYTES, d);
}

/**
 * Reads and validates the header only (no tensor data is touched or copied).
 *
 * @param bytes — the whole file.
 * @param file — a name for error messages.
 * @throws DataFormatError naming `file` on any inconsistency.
 */
export function decodeSafetensorsHeader(bytes: Uint8Array, file = '<buffer>'): SafetensorsHeader {
  if (bytes.byteLength < 8) fail(file, `only ${bytes.byteLength} bytes, the 8-byte header length is missing`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const big = view.getBigUint64(0, true);
  if (big < BigInt(MIN_HEADER_BYTES) || big > BigInt(SAFETENSORS_MAX_HEADER_BYTES) || big > BigInt(bytes.byteLength - 8)) {
    fail(
      file,
      `header length ${big} is outside [${MIN_HEADER_BYTES}, ${Math.min(SAFETENSORS_MAX_HEADER_BYTES, bytes.byteLength - 8)}] ` +
        `(file size ${bytes.byteLength} bytes, limit ${SAFETENSORS_MAX_HEADER_BYTES})`,
      { headerLength: String(big) },
    );
  }
  const headerLength = Number(big);
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, 8 + headerLength)));
  } catch (err) {
    fail(file, `the header is not UTF-8 JSON (${err instanceof Error ? err.message : String(err)})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) fail(file, 'the JSON header is not an object');
  const dataStart = 8 + headerLength;
  const dataLength = bytes.byteLength - dataStart;
  const tensors: SafetensorsTensorInfo[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') {
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(file, '`__metadata__` is not a JSON object');
      const entries = Object.entries(raw as Record<string, unknown>);
      for (const [k, v] of entries) {
        if (typeof v !== 'string') fail(file, `\`__metadata__.${k}\` is not a string`, { key: k });
      }
      metadata = Object.fromEntries(entries) as Record<string, string>;
      continue;
    }
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) fail(file, `header entry '${name}' is not an object`, { tensor: name });
    const info = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!isDtype(info.dtype)) fail(file, `tensor '${name}' has unsupported dtype ${JSON.stringify(info.dtype) ?? 'undefined'}`, { tensor: name });
    const dtype = info.dtype;
    const shape = info.shape;
    if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      fail(file, `tensor '${name}' has an invalid shape ${JSON.stringify(shape) ?? 'undefined'}`, { tensor: name });
    }
    const offsets = info.data_offsets;
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) {
      fail(file, `tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets) ?? 'undefined'}`, { tensor: name });
    }
    const [begin, end] = offsets as [number, number];
    const count = (shape as number[]).reduce((a, b) => a * b, 1);
    const need = count * SAFETENSORS_DTYPE_BYTES[dtype];
    if (end < begin || end - begin !== need) {
      fail(file, `tensor '${name}' data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype}[${(shape as number[]).join(', ')}] needs ${need}`, {
        tensor: name,
      });
    }
    if (end > dataLength) {
      fail(file, `tensor '${name}' data_offsets [${begin}, ${end}] end past the ${dataLength}-byte data section`, { tensor: name });
    }
    tensors.push({ name, dtype, shape: shape as number[], dataOffsets: [begin, end] });
  }
  // Spans must tile the data section: sorted, each starting where the previous ended, the last ending at its end.
  const sorted = [...tensors].sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0] || a.dataOffsets[1] - b.dataOffsets[1]);
  let pos = 0;
  for (const t of sorted) {
    const [begin, end] = t.dataOffsets;
    if (begin !== pos) {
      fail(
        file,
        begin < pos
          ? `tensor '${t.name}' data_offsets [${begin}, ${end}] overlap the previous tensor (ends at ${pos})`
          : `tensor '${t.name}' data_offsets [${begin}, ${end}] leave a gap after byte ${pos}`,
        { tensor: t.name },
      );
    }
    pos = end;
  }
  if (pos !== dataLength) fail(file, `the tensors' data_offsets cover ${pos} bytes but the data section has ${dataLength}`);
  return { tensors, metadata, dataStart };
}

function halfToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * 2 ** -14 * (frac / 1024);
  if (exp === 0x1f) return frac ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  return sign * 2 ** (exp - 15) * (1 + frac / 1024);
}

function readInt(src: DataView, dtype: SafetensorsDtype, i: number): number {
  switch (dtype) {
    case 'I8': return src.getInt8(i);
    case 'U8': return src.getUint8(i);
    case 'BOOL': return src.getUint8(i) ? 1 : 0;
    case 'I16': return src.getInt16(i * 2, true);
    case 'U16': return src.getUint16(i * 2, true);
    case 'I32': return src.getInt32(i * 4, true);
    case 'U32': return src.getUint32(i * 4, true);
    case 'I64': return Number(src.getBigInt64(i * 8, true));
    default: return Number(src.getBigUint64(i * 8, true));
  }
}

function toFloat32(src: DataView, dtype: SafetensorsDtype, n: number): Float32Array {
  const out = new Float32Array(n);
  switch (dtype) {
    case 'F32':
      if (LITTLE_ENDIAN) {
        out.set(new Float32Array(src.buffer.slice(src.byteOffset, src.byteOffset + src.byteLength) as ArrayBuffer));
      } else {
        for (let i = 0; i < n; i++) out[i] = src.getFloat32(i * 4, true);
      }
      return out;
    case 'F64':
      for (let i = 0; i < n; i++) out[i] = src.getFloat64(i * 8, true);
      return out;
    case 'F16':
      for (let i = 0; i < n; i++) out[i] = halfToFloat(src.getUint16(i * 2, true));
      return out;
    case 'BF16': {
      // bfloat16 is the upper half of a float32; DataView big-endian round trip is endian-independent.
      const tmp = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < n; i++) {
        tmp.setUint32(0, src.getUint16(i * 2, true) << 16);
        out[i] = tmp.getFloat32(0);
      }
      return out;
    }
    default:
      for (let i = 0; i < n; i++) out[i] = readInt(src, dtype, i);
      return out;
  }
}

function decodeOne(
  bytes: Uint8Array,
  start: number,
  info: SafetensorsTensorInfo,
  numbers: 'float32' | 'native',
  file: string,
): SafetensorsTensor {
  const [begin, end] = info.dataOffsets;
  const src = new DataView(bytes.buffer, bytes.byteOffset + start + begin, end - begin);
  const n = (end - begin) / SAFETENSORS_DTYPE_BYTES[info.dtype];
  const base = { storedDtype: info.dtype, shape: info.shape };
  const isFloat = info.dtype === 'F32' || info.dtype === 'F64' || info.dtype === 'F16' || info.dtype === 'BF16';
  if (numbers === 'float32' || isFloat) return { ...base, dtype: 'float32', data: toFloat32(src, info.dtype, n) };
  if (info.dtype === 'BOOL') {
    const d = new Uint8Array(n);
    for (let i = 0; i < n; i++) d[i] = src.getUint8(i) ? 1 : 0;
    return { ...base, dtype: 'bool', data: d };
  }
  const d = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = readInt(src, info.dtype, i);
    if (v > 2147483647 || v < -2147483648) {
      fail(file, `tensor '${info.name}' (${info.dtype}) holds ${v}, outside the int32 range`, { tensor: info.name });
    }
    d[i] = v;
  }
  return { ...base, dtype: 'int32', data: d };
}

/**
 * Decodes safetensors bytes with every tensor converted to float32 (integers and BOOL as their numeric values).
 *
 * @param bytes — the whole file.
 * @throws DataFormatError naming `options.file` when the buffer is truncated or the header is inconsistent.
 */
export function decodeSafetensorsBytes(
  bytes: Uint8Array,
  options?: DecodeSafetensorsOptions & { readonly numbers?: 'float32' },
): SafetensorsContents<Float32Array>;
/**
 * Decodes safetensors bytes to engine dtypes: floats → float32, integers → int32 (a {@link DataFormatError} if a value
 * is outside the int32 range), BOOL → bool (0/1 bytes).
 */
export function decodeSafetensorsBytes(
  bytes: Uint8Array,
  options: DecodeSafetensorsOptions & { readonly numbers: 'native' },
): SafetensorsContents;
/** Decodes safetensors bytes in the mode chosen at run time (see the other overloads). */
export function decodeSafetensorsBytes(
  bytes: Uint8Array,
  options: DecodeSafetensorsOptions & { readonly numbers?: 'float32' | 'native' },
): SafetensorsContents;
export function decodeSafetensorsBytes(
  bytes: Uint8Array,
  options: DecodeSafetensorsOptions & { readonly numbers?: 'float32' | 'native' } = {},
): SafetensorsContents {
  const file = options.file ?? '<buffer>';
  const header = decodeSafetensorsHeader(bytes, file);
  const tensors = new Map<string, SafetensorsTensor>();
  for (const info of header.tensors) tensors.set(info.name, decodeOne(bytes, header.dataStart, info, options.numbers ?? 'float32', file));
  return { tensors, metadata: header.metadata };
}

const WRITE_DTYPE: Readonly<Record<SafetensorsValueDtype, SafetensorsDtype>> = { float32: 'F32', int32: 'I32', bool: 'BOOL' };

/**
 * Encodes tensors (float32 → F32, int32 → I32, bool → BOOL) and optional string metadata as safetensors bytes.
 * The header is padded with spaces so the data section starts on an 8-byte boundary; tensors are written in
 * sorted name order.
 *
 * @param tensors — by name (a Map, a record or entries); the name `__metadata__` is reserved.
 * @param metadata — string map stored as `__metadata__` (omitted when empty).
 * @throws DataFormatError when a tensor's value count does not match its shape, a name is reserved or duplicated.
 */
export function encodeSafetensorsBytes(
  tensors: ReadonlyMap<string, SafetensorsWriteTensor> | Readonly<Record<string, SafetensorsWriteTensor>> | Iterable<readonly [string, SafetensorsWriteTensor]>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  const list: [string, SafetensorsWriteTensor][] =
    tensors instanceof Map
      ? [...(tensors as ReadonlyMap<string, SafetensorsWriteTensor>).entries()]
      : Symbol.iterator in (tensors as object)
        ? [...(tensors as Iterable<readonly [string, SafetensorsWriteTensor]>)].map(([k, v]) => [k, v] as [string, SafetensorsWriteTensor])
        : Object.entries(tensors as Record<string, SafetensorsWriteTensor>);
  list.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) {
    for (const [k, v] of Object.entries(metadata)) {
      if (typeof v !== 'string') throw new DataFormatError(`Safetensors metadata '${k}' must be a string, got ${typeof v}.`, { key: k });
    }
    header.__metadata__ = { ...metadata };
  }
  let offset = 0;
  for (let i = 0; i < list.length; i++) {
    const [name, t] = list[i] as [string, SafetensorsWriteTensor];
    if (name === '__metadata__') throw new DataFormatError("A tensor may not be named '__metadata__' (reserved by safetensors).", { tensor: name });
    if (i > 0 && (list[i - 1] as [string, SafetensorsWriteTensor])[0] === name) throw new DataFormatError(`Tensor name '${name}' appears twice.`, { tensor: name });
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new DataFormatError(`Tensor '${name}' has an invalid shape [${t.shape.join(', ')}].`, { tensor: name });
    }
    const dtype = WRITE_DTYPE[t.dtype ?? 'float32'];
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (count !== t.data.length) {
      throw new DataFormatError(`Tensor '${name}' has ${t.data.length} values but shape [${t.shape.join(', ')}] needs ${count}.`, { tensor: name });
    }
    const nbytes = count * SAFETENSORS_DTYPE_BYTES[dtype];
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + nbytes] };
    offset += nbytes;
  }
  const enc = new TextEncoder();
  let json = JSON.stringify(header);
  let headerBytes = enc.encode(json);
  const pad = (8 - (headerBytes.byteLength % 8)) % 8;
  if (pad) {
    json += ' '.repeat(pad);
    headerBytes = enc.encode(json);
  }
  const out = new Uint8Array(8 + headerBytes.byteLength + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerBytes.byteLength), true);
  out.set(headerBytes, 8);
  let pos = 8 + headerBytes.byteLength;
  for (const [, t] of list) {
    const dtype = t.dtype ?? 'float32';
    const n = t.data.length;
    if (dtype === 'bool') {
      for (let i = 0; i < n; i++) out[pos + i] = t.data[i] ? 1 : 0;
      pos += n;
    } else if (dtype === 'int32') {
      if (LITTLE_ENDIAN && t.data instanceof Int32Array) out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
      else for (let i = 0; i < n; i++) view.setInt32(pos + 4 * i, t.data[i] as number, true);
      pos += 4 * n;
    } else {
      if (LITTLE_ENDIAN && t.data instanceof Float32Array) out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
      else for (let i = 0; i < n; i++) view.setFloat32(pos + 4 * i, t.data[i] as number, true);
      pos += 4 * n;
    }
  }
  return out;
}
