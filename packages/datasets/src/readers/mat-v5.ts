import { inflateZlib } from './decompress.js';
import { formatError } from './format-error.js';
import { compressSync } from './zlib.js';

/** MATLAB v5 data-element types (miXXX). */
export const MI = {
  INT8: 1, UINT8: 2, INT16: 3, UINT16: 4, INT32: 5, UINT32: 6, SINGLE: 7, DOUBLE: 9,
  INT64: 12, UINT64: 13, MATRIX: 14, COMPRESSED: 15, UTF8: 16, UTF16: 17, UTF32: 18,
} as const;

/** MATLAB array classes (mxXXX_CLASS). */
export const MX = {
  CELL: 1, STRUCT: 2, OBJECT: 3, CHAR: 4, SPARSE: 5, DOUBLE: 6, SINGLE: 7, INT8: 8, UINT8: 9,
  INT16: 10, UINT16: 11, INT32: 12, UINT32: 13, INT64: 14, UINT64: 15,
} as const;

const ELEMENT_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8, 16: 1, 17: 2, 18: 4 };

/** A numeric or char MATLAB array: `dims` in MATLAB order, `data` in column-major order. */
export interface MatArray {
  readonly name: string;
  /** mxCLASS code (e.g. 9 = uint8, 6 = double). */
  readonly classCode: number;
  readonly dims: readonly number[];
  /** Column-major values; uint8 storage stays a Uint8Array, everything else is converted to Float64Array. */
  readonly data: Uint8Array | Float64Array;
}

interface Reader {
  readonly bytes: Uint8Array;
  readonly view: DataView;
  readonly little: boolean;
  readonly file: string;
}

interface Element {
  readonly type: number;
  readonly data: Uint8Array;
  /** Offset of the next element. */
  readonly next: number;
}

function readElement(r: Reader, at: number, end: number, padded: boolean): Element {
  if (at + 8 > end) throw formatError(r.file, `truncated data-element tag at byte ${at}`);
  const first = r.view.getUint32(at, r.little);
  const small = first >>> 16;
  if (small !== 0) {
    // Small data element: 2-byte size + 2-byte type, data in the next 4 bytes.
    const type = first & 0xffff;
    if (small > 4) throw formatError(r.file, `small data element at byte ${at} declares ${small} bytes (max 4)`);
    return { type, data: r.bytes.subarray(at + 4, at + 4 + small), next: at + 8 };
  }
  const type = first;
  const size = r.view.getUint32(at + 4, r.little);
  const start = at + 8;
  if (size > end - start) {
    throw formatError(r.file, `data element at byte ${at} declares ${size} bytes but only ${end - start} remain (truncated)`);
  }
  const next = padded && type !== MI.COMPRESSED ? start + Math.ceil(size / 8) * 8 : start + size;
  return { type, data: r.bytes.subarray(start, start + size), next: Math.min(next, end) };
}

function numbers(r: Reader, el: Element, what: string): Uint8Array | Float64Array {
  const size = ELEMENT_SIZE[el.type];
  if (size === undefined) throw formatError(r.file, `${what} has unsupported data type ${el.type}`);
  if (el.data.length % size !== 0) throw formatError(r.file, `${what}: ${el.data.length} bytes is not a multiple of ${size}`);
  if (el.type === MI.UINT8) return el.data;
  const n = el.data.length / size;
  const v = new DataView(el.data.buffer, el.data.byteOffset, el.data.byteLength);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const o = i * size;
    switch (el.type) {
      case MI.INT8: out[i] = v.getInt8(o); break;
      case MI.UTF8: out[i] = v.getUint8(o); break;
      case MI.INT16: out[i] = v.getInt16(o, r.little); break;
      case MI.UINT16: case MI.UTF16: out[i] = v.getUint16(o, r.little); break;
      case MI.INT32: out[i] = v.getInt32(o, r.little); break;
      case MI.UINT32: case MI.UTF32: out[i] = v.getUint32(o, r.little); break;
      case MI.SINGLE: out[i] = v.getFloat32(o, r.little); break;
      case MI.DOUBLE: out[i] = v.getFloat64(o, r.little); break;
      case MI.INT64: out[i] = Number(v.getBigInt64(o, r.little)); break;
      case MI.UINT64: out[i] = Number(v.getBigUint64(o, r.little)); break;
    }
  }
  return out;
}

/** Decodes one miMATRIX element body. Returns undefined for classes we do not decode (cell, struct, sparse, ...). */
function readMatrix(r: Reader, body: Uint8Array): MatArray | undefined {
  const sub: Reader = { ...r, bytes: body, view: new DataView(body.buffer, body.byteOffset, body.byteLength) };
  const end = body.length;
  if (end === 0) return undefined; // empty matrix element
  const flags = readElement(sub, 0, end, true);
  if (flags.type !== MI.UINT32 || flags.data.length < 8) throw formatError(r.file, 'miMATRIX array-flags subelement is malformed');
  const fv = new DataView(flags.data.buffer, flags.data.byteOffset, 8);
  const word = fv.getUint32(0, r.little);
  const classCode = word & 0xff;
  const complex = ((word >>> 8) & 0xff & 0x08) !== 0;
  const dimsEl = readElement(sub, flags.next, end, true);
  if (dimsEl.type !== MI.INT32 || dimsEl.data.length < 8 || dimsEl.data.length % 4 !== 0) {
    throw formatError(r.file, 'miMATRIX dimensions subelement is malformed');
  }
  const dv = new DataView(dimsEl.data.buffer, dimsEl.data.byteOffset, dimsEl.data.byteLength);
  const dims = Array.from({ length: dimsEl.data.length / 4 }, (_, i) => dv.getInt32(4 * i, r.little));
  if (dims.some((d) => d < 0)) throw formatError(r.file, `negative dimension in [${dims.join(', ')}]`);
  const nameEl = readElement(sub, dimsEl.next, end, true);
  if (nameEl.type !== MI.INT8 && nameEl.type !== MI.UTF8) throw formatError(r.file, 'miMATRIX array-name subelement is malformed');
  const name = new TextDecoder().decode(nameEl.data);
  if (classCode < MX.CHAR || classCode === MX.SPARSE || classCode > MX.UINT64) return undefined;
  const realEl = readElement(sub, nameEl.next, end, true);
  const data = numbers(sub, realEl, `variable '${name}'`);
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw formatError(r.file, `variable '${name}' has dimensions [${dims.join(', ')}] (${count} values) but ${data.length} stored values`);
  }
  if (complex) throw formatError(r.file, `variable '${name}' is complex; only real arrays are supported`);
  return { name, classCode, dims, data };
}

/**
 * Parses a MATLAB Level-5 MAT-file (as written by `save -v5/-v6/-v7`, e.g. the SVHN `*_32x32.mat`):
 * 128-byte header (text, subsys offset, version 0x0100, endian `IM`/`MI`), then data elements, each either
 * miMATRIX or miCOMPRESSED (zlib) wrapping one miMATRIX. Numeric and char arrays are decoded; cells, structs,
 * sparse and objects are skipped. MATLAB v7.3 (HDF5) and v4 files are rejected with a clear message.
 */
export function parseMat(bytes: Uint8Array, file: string): Map<string, MatArray> {
  if (bytes.length >= 8 && bytes[0] === 0x89 && bytes[1] === 0x48 && bytes[2] === 0x44 && bytes[3] === 0x46) {
    throw formatError(file, 'is an HDF5 file (MATLAB v7.3), not a v5 MAT-file', "Re-save it with MATLAB `save -v7` or scipy.io.savemat.");
  }
  if (bytes.length < 128) throw formatError(file, `${bytes.length} bytes is shorter than the 128-byte MAT-file header`);
  const head = new TextDecoder('latin1').decode(bytes.subarray(0, 116));
  if (head.startsWith('MATLAB 7.3')) throw formatError(file, 'is a MATLAB v7.3 (HDF5) file, not a v5 MAT-file', 'Re-save it with `save -v7`.');
  const e0 = bytes[126];
  const e1 = bytes[127];
  let little: boolean;
  if (e0 === 0x49 && e1 === 0x4d) little = true; // 'IM'
  else if (e0 === 0x4d && e1 === 0x49) little = false; // 'MI'
  else throw formatError(file, "not a MATLAB v5 MAT-file (no 'IM'/'MI' endian indicator at byte 126)");
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(124, little);
  if (version !== 0x0100) throw formatError(file, `unsupported MAT-file version 0x${version.toString(16)} (expected 0x0100)`);
  const r: Reader = { bytes, view, little, file };
  const out = new Map<string, MatArray>();
  let at = 128;
  while (at < bytes.length) {
    if (bytes.length - at < 8) {
      // trailing padding after the last element is allowed only if it is zero
      if (bytes.subarray(at).some((b) => b !== 0)) throw formatError(file, `truncated data-element tag at byte ${at}`);
      break;
    }
    const el = readElement(r, at, bytes.length, true);
    let matrix: Uint8Array | undefined;
    if (el.type === MI.COMPRESSED) {
      const inner = inflateZlib(el.data, `${file} (miCOMPRESSED element at byte ${at})`);
      const ir: Reader = { ...r, bytes: inner, view: new DataView(inner.buffer, inner.byteOffset, inner.byteLength) };
      const innerEl = readElement(ir, 0, inner.length, true);
      if (innerEl.type !== MI.MATRIX) throw formatError(file, `miCOMPRESSED element at byte ${at} does not hold an miMATRIX (type ${innerEl.type})`);
      matrix = innerEl.data;
    } else if (el.type === MI.MATRIX) {
      matrix = el.data;
    } else {
      throw formatError(file, `unexpected top-level data element type ${el.type} at byte ${at} (expected miMATRIX or miCOMPRESSED)`);
    }
    const arr = readMatrix(r, matrix);
    if (arr) out.set(arr.name, arr);
    if (el.next <= at) throw formatError(file, `data element at byte ${at} does not advance`);
    at = el.next;
  }
  return out;
}

/** A variable to write with {@link encodeMat}: uint8 or double data, column-major. */
export interface MatVariable {
  readonly name: string;
  readonly dims: readonly number[];
  readonly data: Uint8Array | Float64Array;
}

function tagged(type: number, data: Uint8Array): Uint8Array {
  const padded = Math.ceil(data.length / 8) * 8;
  const out = new Uint8Array(8 + padded);
  const v = new DataView(out.buffer);
  v.setUint32(0, type, true);
  v.setUint32(4, data.length, true);
  out.set(data, 8);
  return out;
}

function concat(parts: readonly Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/**
 * Writes a little-endian MATLAB v5 MAT-file with uint8 (`Uint8Array`) and double (`Float64Array`) variables,
 * each as a plain miMATRIX or, with `compress`, wrapped in a zlib miCOMPRESSED element (tests and tooling).
 */
export function encodeMat(vars: readonly MatVariable[], options: { compress?: boolean } = {}): Uint8Array {
  const header = new Uint8Array(128).fill(0x20);
  header.set(new TextEncoder().encode('MATLAB 5.0 MAT-file, Platform: promptkd, Created by: encodeMat'), 0);
  header.fill(0, 116, 124);
  const hv = new DataView(header.buffer);
  hv.setUint16(124, 0x0100, true);
  header[126] = 0x49;
  header[127] = 0x4d;
  const elements = vars.map((v) => {
    const isU8 = v.data instanceof Uint8Array;
    const flags = new Uint8Array(8);
    new DataView(flags.buffer).setUint32(0, isU8 ? MX.UINT8 : MX.DOUBLE, true);
    const dims = new Uint8Array(4 * v.dims.length);
    v.dims.forEach((d, i) => new DataView(dims.buffer).setInt32(4 * i, d, true));
    const real = isU8 ? v.data : new Uint8Array(v.data.buffer, v.data.byteOffset, v.data.byteLength);
    const body = concat([
      tagged(MI.UINT32, flags),
      tagged(MI.INT32, dims),
      tagged(MI.INT8, new TextEncoder().encode(v.name)),
      tagged(isU8 ? MI.UINT8 : MI.DOUBLE, real),
    ]);
    const matrix = tagged(MI.MATRIX, body);
    if (!options.compress) return matrix;
    const z = compressSync('zlib', matrix);
    const out = new Uint8Array(8 + z.length);
    const ov = new DataView(out.buffer);
    ov.setUint32(0, MI.COMPRESSED, true);
    ov.setUint32(4, z.length, true);
    out.set(z, 8);
    return out;
  });
  return concat([header, ...elements]);
}
