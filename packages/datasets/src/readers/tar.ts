import { maybeGunzip } from './decompress.js';
import { formatError } from './format-error.js';

/** One regular file of a tar archive (its bytes are a view into the archive buffer). */
export interface TarEntry {
  /** Path inside the archive, `/`-separated (ustar prefix, GNU long names and pax `path` applied). */
  readonly name: string;
  readonly data: Uint8Array;
}

const BLOCK = 512;

function cString(bytes: Uint8Array, start: number, length: number): string {
  let end = start;
  while (end < start + length && bytes[end] !== 0) end++;
  return new TextDecoder().decode(bytes.subarray(start, end));
}

/** Parses an octal field (or GNU base-256 when the high bit of the first byte is set). Returns NaN on garbage. */
function numberField(bytes: Uint8Array, start: number, length: number): number {
  const first = bytes[start] as number;
  if (first & 0x80) {
    let v = first & 0x7f;
    for (let i = 1; i < length; i++) v = v * 256 + (bytes[start + i] as number);
    return v;
  }
  const text = cString(bytes, start, length).trim();
  if (text === '') return 0;
  return /^[0-7]+$/.test(text) ? parseInt(text, 8) : NaN;
}

function isZeroBlock(bytes: Uint8Array, at: number): boolean {
  for (let i = at; i < at + BLOCK; i++) if (bytes[i] !== 0) return false;
  return true;
}

function paxPath(data: Uint8Array): string | undefined {
  const text = new TextDecoder().decode(data);
  for (const line of text.split('\n')) {
    const m = /^\d+ path=(.*)$/.exec(line);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * Lists the regular files of a tar archive (gzip-compressed or plain; ustar, GNU and pax). Header checksums,
 * sizes and bounds are validated; a corrupt or truncated archive raises a DataFormatError naming `file`.
 */
export function parseTar(bytes: Uint8Array, file: string): TarEntry[] {
  const tar = maybeGunzip(bytes, file);
  if (tar.length === 0) throw formatError(file, 'empty tar archive');
  const entries: TarEntry[] = [];
  let at = 0;
  let longName: string | undefined;
  while (at + BLOCK <= tar.length) {
    if (isZeroBlock(tar, at)) return entries; // end-of-archive marker
    const stored = numberField(tar, at + 148, 8);
    let sum = 0;
    for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : (tar[at + i] as number);
    if (!(stored === sum)) throw formatError(file, `tar header at byte ${at} has a bad checksum (not a tar archive, or corrupt)`);
    const size = numberField(tar, at + 124, 12);
    if (!Number.isFinite(size) || size < 0) throw formatError(file, `tar header at byte ${at} has an invalid size field`);
    const type = String.fromCharCode(tar[at + 156] as number);
    const dataStart = at + BLOCK;
    if (dataStart + size > tar.length) {
      throw formatError(file, `tar entry at byte ${at} declares ${size} bytes but the archive ends after ${tar.length - dataStart} (truncated)`);
    }
    const data = tar.subarray(dataStart, dataStart + size);
    const magic = cString(tar, at + 257, 6);
    const prefix = magic === 'ustar' ? cString(tar, at + 345, 155) : '';
    let name = cString(tar, at, 100);
    if (prefix) name = `${prefix}/${name}`;
    if (type === 'L') {
      longName = cString(data, 0, data.length);
    } else if (type === 'x') {
      longName = paxPath(data) ?? longName;
    } else if (type === 'g') {
      // global pax header: ignore
    } else {
      if (longName !== undefined) name = longName;
      longName = undefined;
      if (type === '0' || type === '\0' || type === '7') entries.push({ name: name.replace(/^\.\//, ''), data });
    }
    at = dataStart + Math.ceil(size / BLOCK) * BLOCK;
  }
  if (at < tar.length) throw formatError(file, `tar archive ends inside a header block at byte ${at} (truncated)`);
  return entries; // no end marker: tolerated (some writers omit it)
}

/** Builds a plain ustar archive (tests and tooling): regular files only, names up to 100 bytes. */
export function encodeTar(files: readonly { name: string; data: Uint8Array }[]): Uint8Array {
  const chunks: Uint8Array[] = [];
  const enc = new TextEncoder();
  for (const f of files) {
    const h = new Uint8Array(BLOCK);
    h.set(enc.encode(f.name).subarray(0, 100), 0);
    h.set(enc.encode('0000644\0'), 100);
    h.set(enc.encode('0000000\0'), 108);
    h.set(enc.encode('0000000\0'), 116);
    h.set(enc.encode(`${f.data.length.toString(8).padStart(11, '0')}\0`), 124);
    h.set(enc.encode('00000000000\0'), 136);
    h[156] = 0x30;
    h.set(enc.encode('ustar\0'), 257);
    h.set(enc.encode('00'), 263);
    h.fill(0x20, 148, 156);
    let sum = 0;
    for (const b of h) sum += b;
    h.set(enc.encode(`${sum.toString(8).padStart(6, '0')}\0 `), 148);
    chunks.push(h, f.data, new Uint8Array((BLOCK - (f.data.length % BLOCK)) % BLOCK));
  }
  chunks.push(new Uint8Array(2 * BLOCK));
  const out = new Uint8Array(chunks.reduce((s, c) => s + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}
