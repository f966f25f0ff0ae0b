import { createHash } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { CheckpointError, ConfigError } from '@promptkd/core';
import { dataCacheDir } from '@promptkd/datasets/node';
import { createModel, loadStateDict, modelRegistry, parseSafetensors, type FunctionalClassifier } from '@promptkd/models';

/** The frozen host model a server runs, with its identity. */
export interface LoadedHost {
  readonly model: FunctionalClassifier;
  /** Absolute path of the weights file. */
  readonly file: string;
  /** SHA-256 (hex) of the weights file: what servable prompts name as their host. */
  readonly sha256: string;
  /** Model registry key (`bnCnn`, `resnet18`, ...). */
  readonly arch: string;
  /** The dataset the host was trained on, when the file records it. */
  readonly dataset?: string;
}

/** The model cache `promptkd` pretrains into: `$PROMPTKD_MODELS` or `~/.cache/promptkd/models`. */
export function defaultModelCacheDir(): string {
  return process.env.PROMPTKD_MODELS ?? join(dataCacheDir(), '..', 'models');
}

/**
 * Finds a host weights file: `spec` is a path to a `.safetensors` file, or a cache key (the file name without
 * `.safetensors`, e.g. `mnist-bnCnn-1a2b3c4d5e6f7a8b`) in `cacheDir`.
 * @throws ConfigError naming the cache's keys when nothing matches.
 */
export function resolveHostFile(spec: string, cacheDir = defaultModelCacheDir()): string {
  if (existsSync(spec)) return resolve(spec);
  const name = spec.endsWith('.safetensors') ? spec : `${spec}.safetensors`;
  const cached = join(cacheDir, name);
  if (/^[\w.-]+$/.test(spec) && existsSync(cached)) return cached;
  const keys = existsSync(cacheDir)
    ? readdirSync(cacheDir).filter((f) => f.endsWith('.safetensors')).map((f) => f.slice(0, -'.safetensors'.length))
    : [];
  throw new ConfigError(
    `Host '${spec}' is neither a file nor a cache key in ${cacheDir}. ` +
      (keys.length ? `Cached models: ${keys.join(', ')}.` : 'The cache is empty: run `promptkd demo` or `promptkd kiop run` first, or give a .safetensors path.'),
    { field: 'host', value: spec, cacheDir, keys },
  );
}

/**
 * Loads a host saved by `saveModelWeights` (PyTorch names; the `arch` and `config` metadata rebuild the network),
 * frozen: every variable non-trainable. The SHA-256 of the file is its identity.
 * @throws ConfigError when the file is not found; CheckpointError when it lacks `arch`/`config` metadata or does
 *   not fit the architecture; NonFiniteError when a weight is NaN/Inf.
 */
export async function loadHost(spec: string, options: { cacheDir?: string } = {}): Promise<LoadedHost> {
  const file = resolveHostFile(spec, options.cacheDir);
  const bytes = new Uint8Array(await readFile(file));
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const { tensors, metadata } = parseSafetensors(bytes, file);
  const arch = metadata.arch;
  if (!arch || !modelRegistry.has(arch) || metadata.config === undefined) {
    throw new CheckpointError(
      `${file} does not say which network it holds (metadata arch=${JSON.stringify(arch ?? null)}, config ` +
        `${metadata.config === undefined ? 'missing' : 'present'}). Host files are written by saveModelWeights ` +
        `(@promptkd/models) with a registered arch (${modelRegistry.keys().join(', ')}).`,
      { file, reason: 'no-architecture', arch },
    );
  }
  let config: object;
  try {
    config = JSON.parse(metadata.config) as object;
  } catch (e) {
    throw new CheckpointError(`${file}: the 'config' metadata is not valid JSON.`, { file, reason: 'bad-config' }, { cause: e });
  }
  const model = createModel(arch, config);
  try {
    loadStateDict(model, tensors, { file });
  } catch (e) {
    model.dispose();
    throw e;
  }
  model.setTrainable(false);
  return { model, file, sha256, arch, ...(metadata.dataset ? { dataset: metadata.dataset } : {}) };
}
