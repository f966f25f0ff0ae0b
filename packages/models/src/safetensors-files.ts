import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { parseSafetensors, serializeSafetensors, type SafetensorsFile, type SafetensorsInput } from './safetensors.js';

/** Reads and parses a safetensors file from disk (Node). */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  const bytes = await readFile(path);
  return parseSafetensors(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

/** Writes bytes atomically (temp file + rename), creating the folder (Node). */
export async function writeBytesAtomic(path: string, bytes: Uint8Array): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  await writeFile(tmp, bytes);
  await rename(tmp, path);
}

/** Writes a safetensors file atomically (temp file + rename) (Node). */
export async function writeSafetensors(
  path: string,
  tensors: ReadonlyMap<string, SafetensorsInput> | Readonly<Record<string, SafetensorsInput>>,
  metadata: Readonly<Record<string, string>> = {},
): Promise<void> {
  await writeBytesAtomic(path, serializeSafetensors(tensors, metadata));
}
