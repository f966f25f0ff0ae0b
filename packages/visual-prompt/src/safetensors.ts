import { DataFormatError, decodeSafetensorsBytes, encodeSafetensorsBytes } from '@promptkd/core';

/**
 * Float32 view of the safetensors codec of `@promptkd/core` (the one codec of the project), as prompt artifacts
 * use it: tensors are float32 (F32, F16, BF16 and F64 files are read, converted to float32); F32 is written.
 */

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

/**
 * Encodes float32 tensors (+ optional string metadata) in the safetensors format: an 8-byte little-endian header
 * length, a JSON header `{name: {dtype: "F32", shape, data_offsets: [begin, end]}, __metadata__}` padded with
 * spaces to a multiple of 8 bytes, then the raw little-endian data. Tensors are written in name order.
 */
export function encodeSafetensors(
  tensors: ReadonlyMap<string, StoredTensor>,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  return encodeSafetensorsBytes(tensors, metadata);
}

/**
 * Decodes a safetensors file holding floating-point tensors. Throws {@link DataFormatError} (with `details.file`) on
 * a truncated file, a bad header, a non-float dtype or offsets outside the data.
 */
export function decodeSafetensors(bytes: Uint8Array, file = '<memory>'): SafetensorsContent {
  const decoded = decodeSafetensorsBytes(bytes, { file, numbers: 'float32' });
  const tensors = new Map<string, StoredTensor>();
  for (const [name, t] of decoded.tensors) {
    if (t.storedDtype !== 'F32' && t.storedDtype !== 'F16' && t.storedDtype !== 'BF16' && t.storedDtype !== 'F64') {
      throw new DataFormatError(`${file}: tensor '${name}' has dtype ${t.storedDtype}; prompt tensors must be floating point.`, {
        file,
        tensor: name,
      });
    }
    tensors.set(name, { shape: t.shape, data: t.data });
  }
  return { tensors, metadata: decoded.metadata };
}
