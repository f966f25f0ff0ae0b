import { formatError } from './format-error.js';
import { decompressSync, type DeflateFormat } from './zlib.js';

/** Largest decompressed size accepted by default (2 GiB); protects against decompression bombs. */
export const DEFAULT_MAX_DECOMPRESSED = 2 ** 31 - 1;

/** True when `bytes` starts with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function run(bytes: Uint8Array, file: string, format: DeflateFormat, maxOutputLength: number): Uint8Array {
  try {
    return decompressSync(format, bytes, maxOutputLength);
  } catch (e) {
    const why = e instanceof Error ? e.message : String(e);
    throw formatError(file, `corrupt or truncated ${format} stream (${why})`, 'Download the file again.', e);
  }
}

/** Gunzips `bytes` (all members); throws a DataFormatError naming `file` on corrupt or truncated input. */
export function gunzip(bytes: Uint8Array, file: string, maxOutputLength = DEFAULT_MAX_DECOMPRESSED): Uint8Array {
  return run(bytes, file, 'gzip', maxOutputLength);
}

/** Gunzips when the gzip magic is present, otherwise returns the input unchanged. */
export function maybeGunzip(bytes: Uint8Array, file: string, maxOutputLength = DEFAULT_MAX_DECOMPRESSED): Uint8Array {
  return isGzip(bytes) ? gunzip(bytes, file, maxOutputLength) : bytes;
}

/** Inflates a zlib stream (RFC 1950), e.g. a MATLAB miCOMPRESSED element. */
export function inflateZlib(bytes: Uint8Array, file: string, maxOutputLength = DEFAULT_MAX_DECOMPRESSED): Uint8Array {
  return run(bytes, file, 'zlib', maxOutputLength);
}

/** Inflates a raw deflate stream (RFC 1951), e.g. a zip entry. */
export function inflateRaw(bytes: Uint8Array, file: string, maxOutputLength = DEFAULT_MAX_DECOMPRESSED): Uint8Array {
  return run(bytes, file, 'deflate', maxOutputLength);
}
