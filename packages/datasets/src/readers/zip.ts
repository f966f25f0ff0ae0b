import { inflateRaw } from './decompress.js';
import { formatError } from './format-error.js';
import { compressSync, crc32 } from './zlib.js';

/** One file entry of a zip archive; `read()` decompresses it on demand. */
export interface ZipEntry {
  readonly name: string;
  readonly size: number;
  read(): Uint8Array;
}

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/**
 * Lists the files of a zip archive (stored or deflate entries; no zip64, no encryption) from its central
 * directory. Offsets and sizes are bounds-checked; corrupt or truncated archives raise a DataFormatError.
 * Used for the official GTSRB archives.
 */
export function parseZip(bytes: Uint8Array, file: string): ZipEntry[] {
  if (bytes.length < 22) throw formatError(file, 'too short to be a zip archive');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 0xffff); i--) {
    if (view.getUint32(i, true) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) throw formatError(file, 'no zip end-of-central-directory record (not a zip archive, or truncated)');
  const count = view.getUint16(eocd + 10, true);
  const cdSize = view.getUint32(eocd + 12, true);
  const cdOffset = view.getUint32(eocd + 16, true);
  if (cdOffset === 0xffffffff || count === 0xffff) throw formatError(file, 'zip64 archives are not supported');
  if (cdOffset + cdSize > eocd) throw formatError(file, `central directory [${cdOffset}, +${cdSize}) lies outside the archive`);
  const entries: ZipEntry[] = [];
  let at = cdOffset;
  const dec = new TextDecoder();
  for (let k = 0; k < count; k++) {
    if (at + 46 > eocd || view.getUint32(at, true) !== CENTRAL) throw formatError(file, `bad central-directory entry ${k} at byte ${at}`);
    const flags = view.getUint16(at + 8, true);
    const crc = view.getUint32(at + 16, true);
    const method = view.getUint16(at + 10, true);
    const csize = view.getUint32(at + 20, true);
    const usize = view.getUint32(at + 24, true);
    const nameLen = view.getUint16(at + 28, true);
    const extraLen = view.getUint16(at + 30, true);
    const commentLen = view.getUint16(at + 32, true);
    const local = view.getUint32(at + 42, true);
    if (at + 46 + nameLen > eocd) throw formatError(file, `central-directory entry ${k} is truncated`);
    const name = dec.decode(bytes.subarray(at + 46, at + 46 + nameLen));
    at += 46 + nameLen + extraLen + commentLen;
    if (name.endsWith('/')) continue;
    entries.push({
      name,
      size: usize,
      read(): Uint8Array {
        const where = `${file}!${name}`;
        if (flags & 1) throw formatError(where, 'is encrypted');
        if (local + 30 > bytes.length || view.getUint32(local, true) !== LOCAL) throw formatError(where, `bad local header at byte ${local}`);
        const start = local + 30 + view.getUint16(local + 26, true) + view.getUint16(local + 28, true);
        if (start + csize > bytes.length) throw formatError(where, `compressed data [${start}, +${csize}) runs past the end (truncated)`);
        const raw = bytes.subarray(start, start + csize);
        let out: Uint8Array;
        if (method === 0) out = raw;
        else if (method === 8) out = inflateRaw(raw, where, Math.max(usize, 1));
        else throw formatError(where, `unsupported zip compression method ${method}`);
        if (out.length !== usize) throw formatError(where, `decompressed to ${out.length} bytes, expected ${usize}`);
        if (crc32(out) >>> 0 !== crc) throw formatError(where, 'CRC-32 mismatch (corrupt archive)');
        return out;
      },
    });
  }
  return entries;
}

/** Builds a zip archive (tests and tooling): deflate-compressed entries (`store: true` for stored ones). */
export function encodeZip(files: readonly { name: string; data: Uint8Array; store?: boolean }[]): Uint8Array {
  const enc = new TextEncoder();
  const locals: Uint8Array[] = [];
  const centrals: Uint8Array[] = [];
  let offset = 0;
  for (const f of files) {
    const name = enc.encode(f.name);
    const body = f.store ? f.data : compressSync('deflate', f.data);
    const crc = crc32(f.data) >>> 0;
    const lh = new Uint8Array(30 + name.length);
    const lv = new DataView(lh.buffer);
    lv.setUint32(0, LOCAL, true);
    lv.setUint16(4, 20, true);
    lv.setUint16(8, f.store ? 0 : 8, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, body.length, true);
    lv.setUint32(22, f.data.length, true);
    lv.setUint16(26, name.length, true);
    lh.set(name, 30);
    const ch = new Uint8Array(46 + name.length);
    const cv = new DataView(ch.buffer);
    cv.setUint32(0, CENTRAL, true);
    cv.setUint16(4, 20, true);
    cv.setUint16(6, 20, true);
    cv.setUint16(10, f.store ? 0 : 8, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, body.length, true);
    cv.setUint32(24, f.data.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(42, offset, true);
    ch.set(name, 46);
    locals.push(lh, body);
    centrals.push(ch);
    offset += lh.length + body.length;
  }
  const cdSize = centrals.reduce((s, c) => s + c.length, 0);
  const end = new Uint8Array(22);
  const ev = new DataView(end.buffer);
  ev.setUint32(0, EOCD, true);
  ev.setUint16(8, files.length, true);
  ev.setUint16(10, files.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const parts = [...locals, ...centrals, end];
  const out = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
