import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type * as tf from '@tensorflow/tfjs';
import { CheckpointError, DataFormatError } from '@promptkd/core';
import { type AtomicWriteOptions, removeStaleTempFiles, toStorageError, writeFileAtomic } from './atomic-file.js';
import {
  type NamedVariables,
  type OptimizerSnapshot,
  type OptimizerSnapshotMeta,
  type RestoreOptimizerOptions,
  restoreOptimizer,
  snapshotOptimizer,
} from './optimizer-state.js';
import { type RawTensor, decodeSafetensors, encodeSafetensors, rawToTensors, tensorsToRaw } from './safetensors.js';

/** `format` field of every checkpoint manifest. */
export const CHECKPOINT_FORMAT = 'promptkd-checkpoint';
/** Current checkpoint layout version; a manifest with another version is refused with {@link CheckpointError}. */
export const CHECKPOINT_VERSION = 1;

const OPT_PREFIX = '__optimizer__';
const NAME_RE = /^ckpt-(\d{8,})\.json$/;
const LATEST = 'latest.json';

/** What a training loop hands to {@link saveCheckpoint}. */
export interface CheckpointInput {
  /** Global step counter (number of optimizer steps done). */
  readonly step: number;
  /** Epoch counter (number of completed epochs), if the loop has epochs. */
  readonly epoch?: number;
  /** Named tensors to store (model/prompt variables, banks, ...). Read, not disposed. */
  readonly tensors?: Readonly<Record<string, tf.Tensor>>;
  /**
   * Optimizers whose full state (iterations + slot variables) is stored, by a key of your choice. Prefer
   * `{optimizer, variables}` with the trained variables by stable name (e.g. PyTorch names): slots are then
   * stored under those names and restored by name even if engine variable names differ on resume.
   */
  readonly optimizers?: Readonly<Record<string, tf.Optimizer | { readonly optimizer: tf.Optimizer; readonly variables: NamedVariables }>>;
  /** Any JSON-serialisable state: RNG states (`rng.getState()`), loader position, bank metadata, best metric... */
  readonly state?: unknown;
}

/** Options of {@link saveCheckpoint}. */
export interface SaveCheckpointOptions extends AtomicWriteOptions {
  /** How many complete checkpoints to keep (newest first). Default 2, minimum 1. */
  readonly keep?: number;
}

/** Identity of one checkpoint on disk. */
export interface CheckpointInfo {
  /** Base name, e.g. `ckpt-00000007`. */
  readonly name: string;
  /** Monotonic sequence number within the directory. */
  readonly seq: number;
  readonly step: number;
  readonly epoch: number | undefined;
  /** ISO time the checkpoint was written. */
  readonly createdAt: string;
  /** Path of the JSON manifest (the commit marker). */
  readonly manifestFile: string;
  /** Path of the safetensors file with the tensors. */
  readonly tensorsFile: string;
}

/** A checkpoint read back from disk. Call {@link LoadedCheckpoint.dispose} when its tensors are no longer needed. */
export interface LoadedCheckpoint<S = unknown> extends CheckpointInfo {
  readonly state: S;
  /** The stored tensors, created on the current backend; owned by this object until `dispose()`. */
  readonly tensors: Readonly<Record<string, tf.Tensor>>;
  /** Stored optimizer states by key (plain arrays, no tensors). */
  readonly optimizers: Readonly<Record<string, OptimizerSnapshot>>;
  /** Restores the optimizer stored under `key` into `optimizer` (see {@link restoreOptimizer}). */
  restoreOptimizer(key: string, optimizer: tf.Optimizer, options?: RestoreOptimizerOptions): Promise<void>;
  /** Disposes {@link LoadedCheckpoint.tensors}. */
  dispose(): void;
}

interface Manifest {
  format: string;
  version: number;
  seq: number;
  step: number;
  epoch?: number;
  createdAt: string;
  tensorsFile: string;
  tensorsBytes: number;
  tensorsSha256: string;
  tensorNames: string[];
  optimizers: Record<string, OptimizerSnapshotMeta>;
  state: unknown;
}

const pad = (seq: number): string => String(seq).padStart(8, '0');

function scanSeqs(names: readonly string[]): number[] {
  const seqs: number[] = [];
  for (const n of names) {
    const m = /^ckpt-(\d{8,})\./.exec(n);
    if (m && !n.includes('.tmp-')) seqs.push(Number(m[1]));
  }
  return seqs;
}

/**
 * Writes a checkpoint into `dir` (usually `run.paths.checkpoints`) atomically:
 * 1. tensors (+ optimizer slots) → `ckpt-<seq>.safetensors` (temp file, fsync, rename);
 * 2. manifest → `ckpt-<seq>.json` with format/version, counters, sha256 of the tensors, optimizer metadata
 *    and `state` — the manifest is the commit marker: a checkpoint without it does not exist;
 * 3. `latest.json` pointer (temp + rename); 4. only then older checkpoints beyond `keep` are deleted.
 * A crash or failure at any point leaves the previous checkpoint loadable. Disk-full and permission errors
 * surface as {@link StorageError}. Tensors are only read.
 */
export async function saveCheckpoint(dir: string, input: CheckpointInput, options: SaveCheckpointOptions = {}): Promise<CheckpointInfo> {
  if (!Number.isInteger(input.step) || input.step < 0) {
    throw new CheckpointError(`Checkpoint step must be a non-negative integer, got ${input.step}.`, { step: input.step });
  }
  if (input.epoch !== undefined && (!Number.isFinite(input.epoch) || input.epoch < 0)) {
    throw new CheckpointError(`Checkpoint epoch must be a non-negative number, got ${input.epoch}.`, { epoch: input.epoch });
  }
  const keep = Math.max(1, options.keep ?? 2);
  const stateJson = input.state === undefined ? null : input.state;
  let stateText: string;
  try {
    stateText = JSON.stringify(stateJson);
  } catch (err) {
    throw new CheckpointError(`Checkpoint state is not JSON-serialisable: ${(err as Error).message}`, {}, { cause: err });
  }
  if (stateText === undefined) throw new CheckpointError('Checkpoint state is not JSON-serialisable.');

  try {
    await fs.promises.mkdir(dir, { recursive: true });
  } catch (err) {
    throw toStorageError(err, dir, 'checkpoint directory');
  }
  await removeStaleTempFiles(dir);

  const raw: Record<string, RawTensor> = await tensorsToRaw(input.tensors ?? {});
  for (const n of Object.keys(raw)) {
    if (n.startsWith(OPT_PREFIX)) throw new CheckpointError(`Tensor name '${n}' is reserved (prefix ${OPT_PREFIX}).`, { name: n });
  }
  const optimizers: Record<string, OptimizerSnapshotMeta> = {};
  for (const [key, entry] of Object.entries(input.optimizers ?? {})) {
    const snap =
      typeof (entry as tf.Optimizer).getWeights === 'function'
        ? await snapshotOptimizer(entry as tf.Optimizer)
        : await snapshotOptimizer((entry as { optimizer: tf.Optimizer }).optimizer, { variables: (entry as { variables: NamedVariables }).variables });
    optimizers[key] = snap.meta;
    snap.meta.weightNames.forEach((w, i) => {
      raw[`${OPT_PREFIX}/${key}/${i}`] = snap.weights[w] as RawTensor;
    });
  }

  const existing = await fs.promises.readdir(dir);
  const seq = Math.max(0, ...scanSeqs(existing)) + 1;
  const name = `ckpt-${pad(seq)}`;
  const tensorsFile = path.join(dir, `${name}.safetensors`);
  const manifestFile = path.join(dir, `${name}.json`);
  const bytes = encodeSafetensors(raw, { format: CHECKPOINT_FORMAT, checkpoint: name });
  const createdAt = new Date().toISOString();
  const manifest: Manifest = {
    format: CHECKPOINT_FORMAT,
    version: CHECKPOINT_VERSION,
    seq,
    step: input.step,
    ...(input.epoch !== undefined ? { epoch: input.epoch } : {}),
    createdAt,
    tensorsFile: path.basename(tensorsFile),
    tensorsBytes: bytes.length,
    tensorsSha256: createHash('sha256').update(bytes).digest('hex'),
    tensorNames: Object.keys(input.tensors ?? {}),
    optimizers,
    state: JSON.parse(stateText) as unknown,
  };
  try {
    await writeFileAtomic(tensorsFile, bytes, options);
    await writeFileAtomic(manifestFile, `${JSON.stringify(manifest)}\n`, options);
  } catch (err) {
    // The new checkpoint never became visible (no manifest); drop its half and keep the previous one.
    await fs.promises.rm(manifestFile, { force: true }).catch(() => undefined);
    await fs.promises.rm(tensorsFile, { force: true }).catch(() => undefined);
    throw err;
  }
  await writeFileAtomic(
    path.join(dir, LATEST),
    `${JSON.stringify({ format: `${CHECKPOINT_FORMAT}-pointer`, version: CHECKPOINT_VERSION, checkpoint: name, step: input.step })}\n`,
    options,
  );
  // Prune: keep the `keep` newest sequence numbers that have a manifest; remove older files and orphans.
  const after = await fs.promises.readdir(dir);
  const complete = scanSeqs(after.filter((n) => NAME_RE.test(n))).sort((a, b) => b - a);
  const keepSet = new Set(complete.slice(0, keep));
  for (const n of after) {
    const s = scanSeqs([n])[0];
    if (s !== undefined && s < seq && !keepSet.has(s)) await fs.promises.rm(path.join(dir, n), { force: true }).catch(() => undefined);
  }
  return { name, seq, step: input.step, epoch: input.epoch, createdAt, manifestFile, tensorsFile };
}

/** Lists the checkpoints in `dir` that have a manifest, oldest first (not verified; see {@link loadCheckpoint}). */
export async function listCheckpoints(dir: string): Promise<CheckpointInfo[]> {
  let names: string[];
  try {
    names = await fs.promises.readdir(dir);
  } catch {
    return [];
  }
  const out: CheckpointInfo[] = [];
  for (const n of names) {
    const m = NAME_RE.exec(n);
    if (!m) continue;
    const manifestFile = path.join(dir, n);
    let step = Number.NaN;
    let epoch: number | undefined;
    let createdAt = '';
    try {
      const j = JSON.parse(await fs.promises.readFile(manifestFile, 'utf8')) as Partial<Manifest>;
      step = typeof j.step === 'number' ? j.step : Number.NaN;
      epoch = typeof j.epoch === 'number' ? j.epoch : undefined;
      createdAt = typeof j.createdAt === 'string' ? j.createdAt : '';
    } catch {
      // Listed anyway; loading will report what is wrong.
    }
    const base = n.slice(0, -'.json'.length);
    out.push({ name: base, seq: Number(m[1]), step, epoch, createdAt, manifestFile, tensorsFile: path.join(dir, `${base}.safetensors`) });
  }
  return out.sort((a, b) => a.seq - b.seq);
}

/**
 * Loads and verifies one checkpoint from its manifest path. Throws {@link CheckpointError} on a version or
 * format mismatch, {@link DataFormatError} when the files are corrupt, truncated or missing.
 */
export async function loadCheckpoint<S = unknown>(manifestFile: string): Promise<LoadedCheckpoint<S>> {
  let text: string;
  try {
    text = await fs.promises.readFile(manifestFile, 'utf8');
  } catch (err) {
    throw new DataFormatError(`Checkpoint manifest '${manifestFile}' cannot be read: ${(err as Error).message}`, { file: manifestFile }, { cause: err });
  }
  let m: Manifest;
  try {
    m = JSON.parse(text) as Manifest;
  } catch {
    throw new DataFormatError(`Checkpoint manifest '${manifestFile}' is not valid JSON (truncated or corrupt).`, { file: manifestFile });
  }
  if (m === null || typeof m !== 'object' || m.format !== CHECKPOINT_FORMAT) {
    throw new DataFormatError(`'${manifestFile}' is not a promptkd checkpoint manifest (format '${String((m as Partial<Manifest> | null)?.format)}').`, { file: manifestFile });
  }
  if (m.version !== CHECKPOINT_VERSION) {
    throw new CheckpointError(
      `Checkpoint '${manifestFile}' has layout version ${String(m.version)}; this @promptkd/experiments reads version ${CHECKPOINT_VERSION}. ` +
        'Use the promptkd version that wrote it, or start the run afresh in a new folder.',
      { file: manifestFile, version: m.version, expected: CHECKPOINT_VERSION },
    );
  }
  const bad = (why: string): never => {
    throw new DataFormatError(`Checkpoint '${manifestFile}' is incomplete or corrupt: ${why}.`, { file: manifestFile });
  };
  if (!Number.isInteger(m.seq) || !Number.isInteger(m.step) || typeof m.tensorsFile !== 'string' || typeof m.tensorsSha256 !== 'string') bad('manifest fields missing');
  if (path.basename(m.tensorsFile) !== m.tensorsFile) bad('tensorsFile must be a bare file name');
  if (m.epoch !== undefined && typeof m.epoch !== 'number') bad('epoch is not a number');
  if (!Array.isArray(m.tensorNames) || !m.tensorNames.every((n) => typeof n === 'string')) bad('tensorNames is not a list of names');
  if (m.optimizers === null || typeof m.optimizers !== 'object' || Array.isArray(m.optimizers)) bad('optimizers is not an object');
  for (const [key, meta] of Object.entries(m.optimizers as Record<string, Partial<OptimizerSnapshotMeta> | null>)) {
    if (
      !meta ||
      typeof meta.className !== 'string' ||
      typeof meta.iterations !== 'number' ||
      !Array.isArray(meta.weightNames) ||
      !meta.weightNames.every((n) => typeof n === 'string')
    ) {
      bad(`optimizer '${key}' metadata is malformed`);
    }
  }
  const tensorsFile = path.join(path.dirname(manifestFile), m.tensorsFile);
  let bytes: Buffer;
  try {
    bytes = await fs.promises.readFile(tensorsFile);
  } catch (err) {
    return bad(`tensors file '${tensorsFile}' cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  if (bytes.length !== m.tensorsBytes) bad(`tensors file has ${bytes.length} bytes, the manifest says ${m.tensorsBytes}`);
  if (createHash('sha256').update(bytes).digest('hex') !== m.tensorsSha256) bad('tensors file checksum (sha256) does not match');
  const decoded = decodeSafetensors(bytes, tensorsFile);
  const user: Record<string, RawTensor> = {};
  const optimizers: Record<string, OptimizerSnapshot> = {};
  for (const n of m.tensorNames) {
    const r = decoded.tensors[n];
    if (!r) bad(`tensor '${n}' is missing`);
    user[n] = r as RawTensor;
  }
  for (const [key, meta] of Object.entries(m.optimizers)) {
    const weights: Record<string, RawTensor> = {};
    meta.weightNames.forEach((w, i) => {
      const r = decoded.tensors[`${OPT_PREFIX}/${key}/${i}`];
      if (!r) bad(`optimizer '${key}' slot '${w}' is missing`);
      weights[w] = r as RawTensor;
    });
    optimizers[key] = { meta, weights };
  }
  const tensors = rawToTensors(user);
  const base = path.basename(manifestFile).replace(/\.json$/, '');
  return {
    name: base,
    seq: m.seq,
    step: m.step,
    epoch: m.epoch,
    createdAt: m.createdAt,
    manifestFile,
    tensorsFile,
    state: m.state as S,
    tensors,
    optimizers,
    async restoreOptimizer(key, optimizer, opts) {
      const snap = optimizers[key];
      if (!snap) {
        throw new CheckpointError(
          `Checkpoint '${base}' has no optimizer state '${key}' (has: ${Object.keys(optimizers).join(', ') || 'none'}).`,
          { key, available: Object.keys(optimizers) },
        );
      }
      await restoreOptimizer(optimizer, snap, opts);
    },
    dispose() {
      for (const t of Object.values(tensors)) t.dispose();
    },
  };
}

/** Options of {@link loadLatestCheckpoint}. */
export interface LoadLatestOptions {
  /** Receives a message for every checkpoint skipped as corrupt (default `console.warn`). */
  readonly warn?: (message: string) => void;
}

/**
 * Loads the newest GOOD checkpoint in `dir`, or `undefined` when the directory has none (start afresh).
 * Corrupt or partial checkpoints (truncated file, checksum mismatch, missing tensors file) are skipped with a
 * warning and the next older one is tried; when every checkpoint is bad it throws {@link CheckpointError}.
 * A checkpoint with another layout version throws {@link CheckpointError} at once (never silently skipped).
 */
export async function loadLatestCheckpoint<S = unknown>(dir: string, options: LoadLatestOptions = {}): Promise<LoadedCheckpoint<S> | undefined> {
  const warn = options.warn ?? ((msg: string) => console.warn(msg));
  const list = (await listCheckpoints(dir)).reverse();
  try {
    const pointer = JSON.parse(await fs.promises.readFile(path.join(dir, LATEST), 'utf8')) as { checkpoint?: unknown };
    if (typeof pointer.checkpoint === 'string' && !list.some((c) => c.name === pointer.checkpoint)) {
      warn(`Checkpoint '${pointer.checkpoint}' named by ${path.join(dir, LATEST)} is missing; using the newest checkpoint on disk.`);
    }
  } catch {
    // No or unreadable pointer: the manifests are authoritative.
  }
  const failures: string[] = [];
  for (const c of list) {
    try {
      return await loadCheckpoint<S>(c.manifestFile);
    } catch (err) {
      if (err instanceof DataFormatError) {
        failures.push(`${c.name}: ${err.message}`);
        warn(`Skipping checkpoint ${c.name}: ${err.message} Trying an older one.`);
        continue;
      }
      throw err;
    }
  }
  if (failures.length > 0) {
    throw new CheckpointError(
      `No good checkpoint in '${dir}'; every one is corrupt:\n  ${failures.join('\n  ')}\nDelete the folder's checkpoints to restart from scratch.`,
      { dir, failures },
    );
  }
  return undefined;
}

/**
 * Assigns stored tensors to variables by name with shape checks. `strict` (default true) also refuses
 * variables missing from the checkpoint and checkpoint tensors without a variable.
 */
export function assignVariables(
  variables: ReadonlyMap<string, tf.Variable> | Readonly<Record<string, tf.Variable>>,
  tensors: Readonly<Record<string, tf.Tensor>>,
  options: { strict?: boolean } = {},
): void {
  const entries: [string, tf.Variable][] = variables instanceof Map ? [...variables.entries()] : Object.entries(variables);
  const strict = options.strict ?? true;
  const missing = entries.filter(([n]) => !tensors[n]).map(([n]) => n);
  const names = new Set(entries.map(([n]) => n));
  const unexpected = Object.keys(tensors).filter((n) => !names.has(n));
  const mismatched = entries
    .filter(([n, v]) => tensors[n] && (tensors[n].shape.join('x') !== v.shape.join('x') || tensors[n].dtype !== v.dtype))
    .map(([n, v]) => `${n}: checkpoint ${tensors[n]?.dtype}[${tensors[n]?.shape.join(', ')}] vs variable ${v.dtype}[${v.shape.join(', ')}]`);
  if (mismatched.length || (strict && (missing.length || unexpected.length))) {
    throw new CheckpointError(
      `Checkpoint tensors do not fit the variables: ${[
        missing.length && strict ? `missing [${missing.join(', ')}]` : '',
        unexpected.length && strict ? `unexpected [${unexpected.join(', ')}]` : '',
        mismatched.length ? `mismatched ${mismatched.join('; ')}` : '',
      ].filter(Boolean).join('; ')}.`,
      { missing, unexpected, mismatched },
    );
  }
  for (const [n, v] of entries) {
    const t = tensors[n];
    if (t) v.assign(t);
  }
}
