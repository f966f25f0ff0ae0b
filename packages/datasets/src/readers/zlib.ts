import type * as NodeZlibModule from 'node:zlib';
import { Gunzip, Inflate, Unzlib, deflateSync, zlibSync } from 'fflate';

type NodeZlib = typeof NodeZlibModule;

/**
 * Node's zlib when running in Node, else undefined. Taken through `process.getBuiltinModule` (Node ≥ 20.16) rather
 * than an import statement, so a browser bundle of this package never meets `node:zlib`; browsers use `fflate`.
 */
const nodeZlib = (globalThis as { process?: { getBuiltinModule?: (id: string) => unknown } }).process?.getBuiltinModule?.('node:zlib') as
  | NodeZlib
  | undefined;

/** The three stream formats of the readers. */
export type DeflateFormat = 'gzip' | 'zlib' | 'deflate';

type OnData = (chunk: Uint8Array, final: boolean) => void;
const STREAMS: Record<DeflateFormat, new (ondata: OnData) => { push(chunk: Uint8Array, final?: boolean): void }> = {
  gzip: Gunzip,
  zlib: Unzlib,
  deflate: Inflate,
};

/** Smallest complete stream of each format (header, an empty final block, trailer). */
const MIN_LENGTH: Record<DeflateFormat, number> = { gzip: 20, zlib: 8, deflate: 2 };

/**
 * Decompresses a whole stream (all members of a gzip file). Throws an Error on corrupt or truncated input and when
 * the output would exceed `maxOutputLength` bytes (checked while streaming, before the output is held).
 */
export function decompressSync(format: DeflateFormat, input: Uint8Array, maxOutputLength: number): Uint8Array {
  if (nodeZlib) {
    const fn = format === 'gzip' ? nodeZlib.gunzipSync : format === 'zlib' ? nodeZlib.inflateSync : nodeZlib.inflateRawSync;
    const b = fn(input, { maxOutputLength });
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  if (input.length < MIN_LENGTH[format]) throw new Error('unexpected end of file');
  const chunks: Uint8Array[] = [];
  let total = 0;
  let ended = false;
  const stream = new STREAMS[format]((chunk, final) => {
    total += chunk.length;
    if (total > maxOutputLength) throw new RangeError(`Cannot create a buffer larger than ${maxOutputLength} bytes`);
    chunks.push(chunk);
    if (final) ended = true;
  });
  stream.push(input, true);
  if (!ended) throw new Error('unexpected end of file');
  if (chunks.length === 1) return chunks[0] as Uint8Array;
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** Compresses to a zlib (RFC 1950) or raw deflate (RFC 1951) stream. */
export function compressSync(format: Exclude<DeflateFormat, 'gzip'>, input: Uint8Array): Uint8Array {
  if (nodeZlib) {
    const b = format === 'zlib' ? nodeZlib.deflateSync(input) : nodeZlib.deflateRawSync(input);
    return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  }
  return format === 'zlib' ? zlibSync(input) : deflateSync(input);
}

let crcTable: Uint32Array | undefined;

/** CRC-32 (IEEE 802.3, as in zip and gzip). */
export function crc32(data: Uint8Array): number {
  if (nodeZlib?.crc32) return nodeZlib.crc32(data);
  if (!crcTable) {
    crcTable = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      crcTable[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < data.length; i++) c = (crcTable[(c ^ (data[i] as number)) & 0xff] as number) ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
