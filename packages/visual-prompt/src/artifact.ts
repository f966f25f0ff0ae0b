import * as tf from '@tensorflow/tfjs';
import {
  CheckpointError,
  DataFormatError,
  NonFiniteError,
  byteSourceName,
  fetchBytes,
  type ByteSource,
  type FetchBytesOptions,
  type Normalization,
} from '@promptkd/core';
import type { ImageShape, ParameterCount, SegmentInfo, VisualPrompt } from './prompt.js';
import { createPrompt, promptRegistry } from './registry.js';
import { decodeSafetensors, encodeSafetensors, type StoredTensor } from './safetensors.js';
import { VERSION } from './version.js';

/** The host model a prompt was trained for: what a user needs to run it. */
export interface PromptHostInfo {
  /** Registry key or name of the host model (e.g. `resnet18-gtsrb`). */
  readonly name: string;
  /** The host's own input normalisation (the prompt's ring is in [0,1] image space, before it). */
  readonly normalization?: Normalization;
  /** K_host. */
  readonly numClasses?: number;
}

/** What the caller supplies when saving. */
export interface PromptArtifactInput {
  readonly host?: PromptHostInfo;
  /** Label mappings π by name (e.g. `{ "source": [...], "sourceC": [...] }`): source class j reads host logit π[j]. */
  readonly labelMappings?: Readonly<Record<string, readonly number[]>>;
  readonly description?: string;
  /** Free-form JSON (training recipe, metrics, ...). */
  readonly extra?: Readonly<Record<string, unknown>>;
  /**
   * Float32 tensors stored next to the prompt's own (e.g. prompt-specific BatchNorm statistics of the host), by name;
   * names must differ from the prompt's tensors. Their shapes are listed in the metadata's `extraTensors`.
   */
  readonly extraTensors?: Readonly<Record<string, StoredTensor>>;
}

/** The full metadata stored with a prompt (safetensors `__metadata__.promptkd` and the JSON sidecar). */
export interface PromptArtifactMetadata extends Omit<PromptArtifactInput, 'extraTensors'> {
  readonly format: 'promptkd-prompt';
  readonly formatVersion: 1;
  /** Prompt registry key. */
  readonly type: string;
  readonly config: Readonly<Record<string, unknown>>;
  /** Tensor layout of images and θ: `NHWC` (θ is `[H, W, C]`; PyTorch's is `[C, H, W]`). */
  readonly layout: 'NHWC';
  readonly inputShape: ImageShape;
  readonly outputShape: ImageShape;
  readonly tensors: Readonly<Record<string, readonly number[]>>;
  /** Shapes of the extra tensors (see {@link PromptArtifactInput.extraTensors}); absent when there are none. */
  readonly extraTensorShapes?: Readonly<Record<string, readonly number[]>>;
  readonly segments: readonly SegmentInfo[];
  readonly parameterCount: ParameterCount;
  readonly state?: Record<string, unknown>;
  readonly createdAt: string;
  readonly promptkdVersion: string;
}

/** A loaded prompt and its metadata. */
export interface LoadedPromptArtifact {
  readonly prompt: VisualPrompt;
  readonly metadata: PromptArtifactMetadata;
  /** The extra tensors listed in `metadata.extraTensorShapes` (checked: present, that shape, finite). */
  readonly extraTensors: Readonly<Record<string, StoredTensor>>;
}

/** Where {@link savePromptArtifact} wrote the files. */
export interface SavedPromptArtifact {
  readonly safetensorsPath: string;
  readonly metadataPath: string;
  readonly metadata: PromptArtifactMetadata;
}

function artifactError(reason: string, message: string, details: Record<string, unknown> = {}, cause?: unknown) {
  return new CheckpointError(message, { ...details, reason }, cause === undefined ? undefined : { cause });
}

/** In-memory encoding: the safetensors bytes (metadata embedded) and the metadata object. */
export function encodePromptArtifact(
  prompt: VisualPrompt,
  input: PromptArtifactInput = {},
  options: { createdAt?: Date } = {},
): { safetensors: Uint8Array; metadata: PromptArtifactMetadata } {
  const tensors = new Map<string, StoredTensor>();
  const shapes: Record<string, number[]> = {};
  for (const [name, v] of prompt.namedVariables()) {
    const data = v.dataSync() as Float32Array;
    tensors.set(name, { shape: v.shape, data: Float32Array.from(data) });
    shapes[name] = [...v.shape];
  }
  const extraShapes: Record<string, number[]> = {};
  for (const [name, t] of Object.entries(input.extraTensors ?? {})) {
    if (tensors.has(name)) {
      throw artifactError('bad-config', `Extra tensor '${name}' has the name of one of the prompt's tensors; rename it.`, { name });
    }
    if (t.data.length !== t.shape.reduce((a, b) => a * b, 1)) {
      throw artifactError('wrong-shape', `Extra tensor '${name}' has ${t.data.length} values for shape [${t.shape.join(', ')}].`, { name });
    }
    tensors.set(name, { shape: [...t.shape], data: Float32Array.from(t.data) });
    extraShapes[name] = [...t.shape];
  }
  const state = prompt.getState();
  const metadata: PromptArtifactMetadata = {
    format: 'promptkd-prompt',
    formatVersion: 1,
    type: prompt.key,
    config: JSON.parse(JSON.stringify(prompt.config)) as Record<string, unknown>,
    layout: 'NHWC',
    inputShape: prompt.inputShape,
    outputShape: prompt.outputShape,
    tensors: shapes,
    ...(Object.keys(extraShapes).length ? { extraTensorShapes: extraShapes } : {}),
    segments: prompt.segments(),
    parameterCount: prompt.parameterCount(),
    ...(state !== undefined ? { state } : {}),
    ...(input.host ? { host: input.host } : {}),
    ...(input.labelMappings ? { labelMappings: input.labelMappings } : {}),
    ...(input.description !== undefined ? { description: input.description } : {}),
    ...(input.extra ? { extra: input.extra } : {}),
    createdAt: (options.createdAt ?? new Date()).toISOString(),
    promptkdVersion: VERSION,
  };
  validateLabelMappings(metadata);
  const safetensors = encodeSafetensors(tensors, { format: 'promptkd-prompt', promptkd: JSON.stringify(metadata) });
  return { safetensors, metadata };
}

function validateLabelMappings(meta: PromptArtifactInput, file?: string): void {
  const k = meta.host?.numClasses;
  for (const [name, pi] of Object.entries(meta.labelMappings ?? {})) {
    const ok =
      Array.isArray(pi) &&
      pi.every((h) => Number.isInteger(h) && h >= 0 && (k === undefined || h < k)) &&
      new Set(pi).size === pi.length;
    if (!ok) {
      throw artifactError(
        'bad-label-mapping',
        `Label mapping '${name}' must be a list of distinct host class indices${k !== undefined ? ` in [0, ${k})` : ''}, ` +
          `got ${JSON.stringify(pi)}.`,
        { name, file },
      );
    }
  }
}

/** Largest number a stored prompt config may hold outside `seed` fields (canvas sides, patch sizes, ...). */
const MAX_CONFIG_NUMBER = 4096;

/**
 * Rejects a stored config whose numbers could make {@link createPrompt} allocate absurd amounts of memory (a corrupt
 * or hostile file: e.g. `outputSize: 1e6` is a 10^12-element ring) before anything is allocated.
 */
function checkConfigBounds(config: unknown, file: string, type: string): void {
  const walk = (v: unknown, path: string): void => {
    if (typeof v === 'number') {
      if (!/seed/i.test(path) && !(Math.abs(v) <= MAX_CONFIG_NUMBER)) {
        throw artifactError(
          'bad-config',
          `${file}: config field '${path}' of prompt type '${type}' is ${v}, outside ±${MAX_CONFIG_NUMBER}; the file is corrupt.`,
          { file, field: path, value: v },
        );
      }
    } else if (Array.isArray(v)) {
      v.forEach((x, i) => walk(x, `${path}[${i}]`));
    } else if (v !== null && typeof v === 'object') {
      for (const [k, x] of Object.entries(v)) walk(x, path ? `${path}.${k}` : k);
    }
  };
  walk(config, '');
}

/**
 * Rebuilds a prompt from safetensors bytes (metadata embedded, or given as `sidecar`), strictly: the prompt type
 * must be registered, the config valid, every tensor present with the exact shape and finite values, and no
 * unexpected tensors. Errors are {@link CheckpointError}s with `details.reason` ∈
 * `unknown-type | bad-config | missing-tensor | wrong-shape | unexpected-tensor | bad-label-mapping`, or
 * {@link DataFormatError} for a corrupt file / metadata.
 */
export function decodePromptArtifact(
  bytes: Uint8Array,
  options: { file?: string; sidecar?: unknown } = {},
): LoadedPromptArtifact {
  const file = options.file ?? '<memory>';
  const { tensors, metadata: raw } = decodeSafetensors(bytes, file);
  let meta: PromptArtifactMetadata;
  if (raw.promptkd !== undefined) {
    try {
      meta = JSON.parse(raw.promptkd) as PromptArtifactMetadata;
    } catch (e) {
      throw new DataFormatError(`${file}: the embedded promptkd metadata is not valid JSON.`, { file }, { cause: e });
    }
  } else if (options.sidecar !== undefined) {
    meta = options.sidecar as PromptArtifactMetadata;
  } else {
    throw new DataFormatError(
      `${file} has no promptkd metadata (no __metadata__.promptkd and no JSON sidecar). It is not a prompt artifact ` +
        'saved by savePromptArtifact.',
      { file },
    );
  }
  if (typeof meta !== 'object' || meta === null || meta.format !== 'promptkd-prompt') {
    throw new DataFormatError(`${file}: metadata 'format' must be 'promptkd-prompt'.`, { file });
  }
  if (meta.formatVersion !== 1) {
    throw new DataFormatError(
      `${file}: prompt artifact format version ${String(meta.formatVersion)} is not supported by @promptkd/visual-prompt ` +
        `${VERSION} (supports 1). Upgrade the package.`,
      { file, formatVersion: meta.formatVersion },
    );
  }
  if (!promptRegistry.has(meta.type)) {
    throw artifactError(
      'unknown-type',
      `${file}: unknown prompt type '${meta.type}'. Registered types: ${promptRegistry.keys().join(', ')}. ` +
        'Register the type (see docs/contributing/prompt-type.md) before loading.',
      { file, type: meta.type },
    );
  }
  validateLabelMappings(meta, file);
  checkConfigBounds(meta.config, file, meta.type);
  let prompt: VisualPrompt;
  try {
    prompt = createPrompt(meta.type, meta.config);
  } catch (e) {
    // Any failure to build the prompt from the stored config (including an allocation a typed check missed) is a
    // bad config of this file, not a crash of the caller.
    throw artifactError(
      'bad-config',
      `${file}: invalid config for prompt type '${meta.type}': ${e instanceof Error ? e.message : String(e)}`,
      { file },
      e,
    );
  }
  try {
    const expected = prompt.namedVariables();
    for (const [name, v] of expected) {
      const t = tensors.get(name);
      if (!t) {
        throw artifactError(
          'missing-tensor',
          `${file}: tensor '${name}' of prompt type '${meta.type}' is missing (found: ${[...tensors.keys()].join(', ') || 'none'}).`,
          { file, name },
        );
      }
      if (t.shape.length !== v.shape.length || t.shape.some((d, i) => d !== v.shape[i])) {
        throw artifactError(
          'wrong-shape',
          `${file}: tensor '${name}' has shape [${t.shape.join(', ')}], but the config needs [${v.shape.join(', ')}] ` +
            '(NHWC layout; transpose PyTorch [C, H, W] tensors to [H, W, C]).',
          { file, name, expected: v.shape, actual: t.shape },
        );
      }
      if (!t.data.every(Number.isFinite)) {
        throw new NonFiniteError(`${file}: tensor '${name}' contains NaN or infinite values.`, { file, name });
      }
    }
    const extraShapes = meta.extraTensorShapes ?? {};
    if (typeof extraShapes !== 'object' || extraShapes === null) {
      throw artifactError('bad-config', `${file}: metadata 'extraTensorShapes' must be an object of tensor shapes.`, { file });
    }
    for (const [name, shape] of Object.entries(extraShapes)) {
      const t = tensors.get(name);
      if (expected.has(name) || !t) {
        throw artifactError(
          t ? 'bad-config' : 'missing-tensor',
          `${file}: extra tensor '${name}' ${t ? "has the name of one of the prompt's tensors" : 'is listed in the metadata but missing'}.`,
          { file, name },
        );
      }
      if (!Array.isArray(shape) || t.shape.length !== shape.length || t.shape.some((d, i) => d !== shape[i])) {
        throw artifactError('wrong-shape', `${file}: extra tensor '${name}' has shape [${t.shape.join(', ')}], the metadata says ${JSON.stringify(shape)}.`, {
          file,
          name,
        });
      }
      if (!t.data.every(Number.isFinite)) {
        throw new NonFiniteError(`${file}: extra tensor '${name}' contains NaN or infinite values.`, { file, name });
      }
    }
    for (const name of tensors.keys()) {
      if (!expected.has(name) && !Object.hasOwn(extraShapes, name)) {
        throw artifactError(
          'unexpected-tensor',
          `${file}: unexpected tensor '${name}' for prompt type '${meta.type}' (expected: ${[...expected.keys()].join(', ')}).`,
          { file, name },
        );
      }
    }
    for (const [name, v] of expected) {
      const t = tensors.get(name) as StoredTensor;
      tf.tidy(() => v.assign(tf.tensor(t.data, [...t.shape], 'float32')));
    }
    if (meta.state !== undefined) prompt.setState(meta.state);
  } catch (e) {
    prompt.dispose();
    throw e;
  }
  const extraTensors: Record<string, StoredTensor> = {};
  for (const name of Object.keys(meta.extraTensorShapes ?? {})) extraTensors[name] = tensors.get(name) as StoredTensor;
  return { prompt, metadata: meta, extraTensors };
}

/**
 * Loads a prompt artifact from a URL or a file the user dropped (a Blob), with the same checks and errors as
 * `loadPromptArtifact` in Node (see {@link decodePromptArtifact}). Works in browsers and in Node.
 * @param options.sidecar — the JSON sidecar's content, for a safetensors file without embedded metadata.
 */
export async function loadPromptArtifactFrom(
  source: ByteSource,
  options: FetchBytesOptions & { sidecar?: unknown } = {},
): Promise<LoadedPromptArtifact> {
  const bytes = await fetchBytes(source, options);
  return decodePromptArtifact(bytes, { file: byteSourceName(source), sidecar: options.sidecar });
}
