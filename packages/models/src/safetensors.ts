import {
  decodeSafetensorsBytes,
  encodeSafetensorsBytes,
  type SafetensorsDtype as CoreSafetensorsDtype,
} from '@promptkd/core';

/**
 * Float32 view of the safetensors codec of `@promptkd/core` (the one codec of the project). File I/O (Node) is in
 * `safetensors-files.ts` (`@promptkd/models/node`).
 * Every stored dtype is read and converted to float32; F32 is written.
 */

/** Element types a safetensors file may declare. All are read (converted to float32); F32 is written. */
export type SafetensorsDtype = CoreSafetensorsDtype;

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

/**
 * Parses a safetensors byte buffer (8-byte little-endian header length, JSON header, raw data), strictly
 * (see `decodeSafetensorsBytes` in `@promptkd/core`). Every dtype is decoded to float32.
 *
 * @param bytes — the whole file.
 * @param file — a name for error messages (a path, URL or label).
 * @throws DataFormatError naming `file` when the buffer is truncated or the header is inconsistent.
 */
export function parseSafetensors(bytes: Uint8Array, file = '<buffer>'): SafetensorsFile {
  const decoded = decodeSafetensorsBytes(bytes, { file, numbers: 'float32' });
  const tensors = new Map<string, SafetensorsEntry>();
  for (const [name, t] of decoded.tensors) tensors.set(name, { dtype: t.storedDtype, shape: t.shape, data: t.data });
  return { tensors, metadata: decoded.metadata };
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
  return encodeSafetensorsBytes(tensors, metadata);
}
