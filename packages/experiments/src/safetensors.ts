import * as tf from '@tensorflow/tfjs';
import {
  DataFormatError,
  SAFETENSORS_MAX_HEADER_BYTES,
  decodeSafetensorsBytes,
  encodeSafetensorsBytes,
} from '@promptkd/core';

/**
 * Typed-array view of the safetensors codec of `@promptkd/core` (the one codec of the project), plus the tf
 * conversions. Written: F32, I32, BOOL. Read: F32, F16, BF16, F64 (→ float32), I8/U8/I16/U16/I32/U32 and I64/U64
 * (→ int32; a DataFormatError when a value is outside the int32 range), BOOL.
 */

/** Largest header accepted when reading (the reference implementation's limit). */
export { SAFETENSORS_MAX_HEADER_BYTES };

/** Plain typed-array form of a tensor, used by the codec without touching the engine. */
export interface RawTensor {
  readonly dtype: 'float32' | 'int32' | 'bool';
  readonly shape: readonly number[];
  readonly data: Float32Array | Int32Array | Uint8Array;
}

/** Encodes raw tensors (and optional string metadata) as safetensors bytes. */
export function encodeSafetensors(tensors: Readonly<Record<string, RawTensor>>, metadata: Record<string, string> = {}): Uint8Array {
  return encodeSafetensorsBytes(tensors, metadata);
}

/** Decodes safetensors bytes; throws {@link DataFormatError} for anything malformed (never hangs, never over-allocates). */
export function decodeSafetensors(
  bytes: Uint8Array,
  file?: string,
): { tensors: Record<string, RawTensor>; metadata: Record<string, string> } {
  const decoded = decodeSafetensorsBytes(bytes, { ...(file !== undefined ? { file } : {}), numbers: 'native' });
  const tensors: Record<string, RawTensor> = {};
  for (const [name, t] of decoded.tensors) tensors[name] = { dtype: t.dtype, shape: t.shape, data: t.data };
  return { tensors, metadata: { ...decoded.metadata } };
}

/** Reads the data of tf tensors (async, no engine tensors left behind) into {@link RawTensor}s. */
export async function tensorsToRaw(tensors: Readonly<Record<string, tf.Tensor>>): Promise<Record<string, RawTensor>> {
  const out: Record<string, RawTensor> = {};
  for (const [name, t] of Object.entries(tensors)) {
    if (t.isDisposed) throw new DataFormatError(`Tensor '${name}' is already disposed; save it before disposing it.`, { name });
    // Copied: some backends (cpu) hand out their own backing array.
    const data = await t.data();
    if (t.dtype === 'float32') out[name] = { dtype: 'float32', shape: t.shape, data: (data as Float32Array).slice() };
    else if (t.dtype === 'int32') out[name] = { dtype: 'int32', shape: t.shape, data: (data as Int32Array).slice() };
    else if (t.dtype === 'bool') out[name] = { dtype: 'bool', shape: t.shape, data: Uint8Array.from(data as Uint8Array) };
    else throw new DataFormatError(`Tensor '${name}' has dtype ${t.dtype}; only float32, int32 and bool can be saved.`, { name });
  }
  return out;
}

/** Creates tf tensors from {@link RawTensor}s. The caller owns (and must dispose) the result. */
export function rawToTensors(raw: Readonly<Record<string, RawTensor>>): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const [name, r] of Object.entries(raw)) out[name] = tf.tensor(r.data, [...r.shape], r.dtype);
  return out;
}
