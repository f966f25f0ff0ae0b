import * as tf from '@tensorflow/tfjs';
import { CheckpointError, NonFiniteError, byteSourceName, fetchBytes, type ByteSource, type FetchBytesOptions } from '@promptkd/core';
import type { TorchNamedModel } from './classifier-base.js';
import type { ParamLayout } from './param-store.js';
import { parseSafetensors, serializeSafetensors, type SafetensorsFile } from './safetensors.js';

/** A tensor in PyTorch layout (row-major float32). */
export interface TorchTensor {
  readonly shape: readonly number[];
  readonly data: Float32Array;
}

/** Options of {@link loadStateDict}. */
export interface LoadStateDictOptions {
  /** Require an exact key match (PyTorch `strict=True`). Default true. Shape mismatches always throw. */
  readonly strict?: boolean;
  /** Skip these model/checkpoint names, e.g. a replaced head: `(n) => n.startsWith('fc.')`. */
  readonly exclude?: (name: string) => boolean;
  /** Name of the source (file path) for error messages. */
  readonly file?: string;
}

/** What {@link loadStateDict} did. */
export interface LoadReport {
  readonly loaded: readonly string[];
  readonly missing: readonly string[];
  readonly unexpected: readonly string[];
  readonly mismatched: readonly { name: string; expected: readonly number[]; actual: readonly number[] }[];
}

/** Checkpoint keys that never correspond to a variable here (PyTorch bookkeeping). */
const IGNORED = /(^|\.)num_batches_tracked$/;

function toTorchShape(shape: readonly number[], layout: ParamLayout): number[] {
  if (layout === 'conv') return [shape[3], shape[2], shape[0], shape[1]] as number[];
  if (layout === 'linear') return [shape[1], shape[0]] as number[];
  return [...shape];
}

/** Converts a variable value to PyTorch layout (OIHW, [out, in]). */
function toTorch(v: tf.Tensor, layout: ParamLayout): tf.Tensor {
  if (layout === 'conv') return tf.transpose(v, [3, 2, 0, 1]);
  if (layout === 'linear') return tf.transpose(v);
  return tf.clone(v);
}

/** Converts a PyTorch-layout tensor to this package's layout (HWIO, [in, out]). */
function fromTorch(t: TorchTensor, layout: ParamLayout): tf.Tensor {
  const x = tf.tensor(t.data, [...t.shape], 'float32');
  if (layout === 'plain') return x;
  const y = layout === 'conv' ? tf.transpose(x, [2, 3, 1, 0]) : tf.transpose(x);
  x.dispose();
  return y;
}

function layoutOf(model: TorchNamedModel, name: string): ParamLayout {
  return model.torchLayout?.(name) ?? 'plain';
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/**
 * The model's state dict in PyTorch names and layouts (`model.state_dict()`), buffers included.
 */
export function exportStateDict(model: TorchNamedModel): Map<string, TorchTensor> {
  const out = new Map<string, TorchTensor>();
  for (const [name, v] of model.namedVariables()) {
    const layout = layoutOf(model, name);
    const t = toTorch(v, layout);
    out.set(name, { shape: toTorchShape(v.shape, layout), data: t.dataSync() as Float32Array });
    t.dispose();
  }
  return out;
}

/**
 * Loads a PyTorch state dict by name, converting layouts (OIHW → HWIO, [out,in] → [in,out]).
 * Validates everything first and reports missing, unexpected and shape-mismatched keys together in one
 * {@link CheckpointError}; nothing is assigned when it throws. `num_batches_tracked` keys are ignored.
 *
 * @throws CheckpointError on missing, unexpected or mis-shaped keys; NonFiniteError (with `details.tensor`) when a
 *   tensor to load holds NaN or ±Inf. Either way no variable is changed.
 */
export function loadStateDict(
  model: TorchNamedModel,
  tensors: ReadonlyMap<string, TorchTensor>,
  options: LoadStateDictOptions = {},
): LoadReport {
  const strict = options.strict ?? true;
  const exclude = options.exclude ?? (() => false);
  const vars = model.namedVariables();
  const missing: string[] = [];
  const mismatched: { name: string; expected: number[]; actual: number[] }[] = [];
  const toLoad: [string, tf.Variable, TorchTensor][] = [];
  for (const [name, v] of vars) {
    if (exclude(name)) continue;
    const t = tensors.get(name);
    if (!t) {
      missing.push(name);
      continue;
    }
    const expected = toTorchShape(v.shape, layoutOf(model, name));
    if (!sameShape(expected, t.shape)) mismatched.push({ name, expected, actual: [...t.shape] });
    else toLoad.push([name, v, t]);
  }
  const unexpected = [...tensors.keys()].filter((k) => !vars.has(k) && !IGNORED.test(k) && !exclude(k));
  if (mismatched.length > 0 || (strict && (missing.length > 0 || unexpected.length > 0))) {
    const parts: string[] = [];
    if (missing.length) parts.push(`missing keys (${missing.length}): ${missing.slice(0, 20).join(', ')}${missing.length > 20 ? ', …' : ''}`);
    if (unexpected.length) parts.push(`unexpected keys (${unexpected.length}): ${unexpected.slice(0, 20).join(', ')}${unexpected.length > 20 ? ', …' : ''}`);
    if (mismatched.length) {
      parts.push(`shape mismatches (${mismatched.length}): ${mismatched.slice(0, 20).map((m) => `${m.name} checkpoint [${m.actual.join(', ')}] vs model [${m.expected.join(', ')}]`).join('; ')}`);
    }
    throw new CheckpointError(
      `Cannot load ${options.file ? `'${options.file}'` : 'the state dict'} into model '${model.name}': ${parts.join('; ')}. ` +
        'Check that the checkpoint was saved from the same architecture/config (shapes are in PyTorch layout), ' +
        'or pass { strict: false } / { exclude } to load a subset (e.g. a replaced head).',
      { file: options.file, model: model.name, missing, unexpected, mismatched },
    );
  }
  for (const [name, , t] of toLoad) {
    const index = t.data.findIndex((x) => !Number.isFinite(x));
    if (index >= 0) {
      const value = t.data[index] as number;
      throw new NonFiniteError(
        `Tensor '${name}' in ${options.file ? `'${options.file}'` : 'the state dict'} holds ${value} at flat index ${index}; ` +
          `refusing to load it into model '${model.name}' (no weight was changed). The checkpoint was saved from a diverged run or is corrupt.`,
        { tensor: name, index, value, file: options.file, model: model.name },
      );
    }
  }
  for (const [name, v, t] of toLoad) {
    const value = fromTorch(t, layoutOf(model, name));
    v.assign(value);
    value.dispose();
  }
  return { loaded: toLoad.map(([n]) => n), missing, unexpected, mismatched };
}

/** Builds the metadata stored with a model: `format: pt`, `arch`, `config` (JSON). */
function modelMetadata(model: TorchNamedModel, extra: Readonly<Record<string, string>>): Record<string, string> {
  const md: Record<string, string> = { format: 'pt', arch: model.name, layout: 'PyTorch (OIHW conv, [out, in] linear)' };
  if (model.config) md.config = JSON.stringify(model.config);
  return { ...md, ...extra };
}

/** Serializes a model's state dict (PyTorch names and layouts, F32) to safetensors bytes. */
export function serializeModel(model: TorchNamedModel, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  return serializeSafetensors(exportStateDict(model), modelMetadata(model, metadata));
}

/** Loads safetensors bytes (or a parsed file) into a model by PyTorch name. */
export function deserializeModel(
  model: TorchNamedModel,
  source: Uint8Array | SafetensorsFile,
  options: LoadStateDictOptions = {},
): LoadReport {
  const file = source instanceof Uint8Array ? parseSafetensors(source, options.file) : source;
  return loadStateDict(model, file.tensors, options);
}

/**
 * Loads `.safetensors` weights from a URL or a file the user dropped (a Blob) into a model, with the same checks as
 * {@link loadModelWeights} (names, shapes, finite values; all or nothing). Works in browsers and in Node.
 */
export async function loadModelWeightsFrom(
  model: TorchNamedModel,
  source: ByteSource,
  options: LoadStateDictOptions & FetchBytesOptions = {},
): Promise<LoadReport> {
  const bytes = await fetchBytes(source, options);
  return deserializeModel(model, bytes, { ...options, file: options.file ?? byteSourceName(source) });
}
