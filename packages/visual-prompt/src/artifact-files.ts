import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { CheckpointError } from '@promptkd/core';
import type { VisualPrompt } from './prompt.js';
import {
  decodePromptArtifact,
  encodePromptArtifact,
  type LoadedPromptArtifact,
  type PromptArtifactInput,
  type SavedPromptArtifact,
} from './artifact.js';

/* Prompt artifacts on disk (Node): `@promptkd/visual-prompt/node`. */

function join(dir: string, name: string): string {
  return dir.endsWith('/') || dir.endsWith('\\') ? `${dir}${name}` : `${dir}/${name}`;
}

function dirname(path: string): string {
  const i = Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\'));
  return i < 0 ? '.' : i === 0 ? path.slice(0, 1) : path.slice(0, i);
}

function pathsFor(target: string): { safetensorsPath: string; metadataPath: string } {
  if (target.endsWith('.safetensors')) {
    return { safetensorsPath: target, metadataPath: `${target.slice(0, -'.safetensors'.length)}.json` };
  }
  return { safetensorsPath: join(target, 'prompt.safetensors'), metadataPath: join(target, 'prompt.json') };
}

/**
 * Saves a trained prompt as `<dir>/prompt.safetensors` + `<dir>/prompt.json` (or `<name>.safetensors` +
 * `<name>.json` when `target` ends in `.safetensors`). The safetensors file is self-contained (the metadata is
 * embedded in `__metadata__.promptkd`); the JSON file is a readable copy. Tensors are float32, NHWC.
 */
export async function savePromptArtifact(
  target: string,
  prompt: VisualPrompt,
  input: PromptArtifactInput = {},
): Promise<SavedPromptArtifact> {
  const { safetensorsPath, metadataPath } = pathsFor(target);
  const { safetensors, metadata } = encodePromptArtifact(prompt, input);
  await mkdir(dirname(safetensorsPath), { recursive: true });
  await writeFile(safetensorsPath, safetensors);
  await writeFile(metadataPath, `${JSON.stringify(metadata, null, 2)}\n`);
  return { safetensorsPath, metadataPath, metadata };
}

/** Loads a prompt saved by {@link savePromptArtifact} (a directory or a `.safetensors` path); see {@link decodePromptArtifact}. */
export async function loadPromptArtifact(source: string): Promise<LoadedPromptArtifact> {
  const isFile = (await stat(source).catch(() => undefined))?.isFile() ?? false;
  const { safetensorsPath, metadataPath } =
    isFile && !source.endsWith('.safetensors') ? { safetensorsPath: source, metadataPath: undefined } : pathsFor(source);
  let bytes: Uint8Array;
  try {
    bytes = new Uint8Array(await readFile(safetensorsPath));
  } catch (e) {
    throw new CheckpointError(`Prompt artifact not found: ${safetensorsPath}.`, { file: safetensorsPath, reason: 'missing-file' }, { cause: e });
  }
  const sidecarText = metadataPath ? await readFile(metadataPath, 'utf8').catch(() => undefined) : undefined;
  let sidecar: unknown;
  if (sidecarText !== undefined) {
    try {
      sidecar = JSON.parse(sidecarText);
    } catch {
      sidecar = undefined;
    }
  }
  return decodePromptArtifact(bytes, { file: safetensorsPath, sidecar });
}
