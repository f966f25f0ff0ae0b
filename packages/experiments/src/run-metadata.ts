import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import * as tf from '@tensorflow/tfjs';

/** Environment of a run, recorded in `run.json` and `results.json`. Deliberately holds no host name or user. */
export interface RunMetadata {
  /** `process.version`, e.g. `v20.19.0`. */
  readonly node: string;
  /** `@tensorflow/tfjs` version. */
  readonly tfjs: string;
  /** Active backend (`wasm`, `cpu`, `tensorflow`, ...) or `none` before `initBackend`. */
  readonly backend: string;
  /** Float precision of the backend in bits (32 or 16), when a backend is active. */
  readonly floatPrecision: number | null;
  /** `git rev-parse HEAD` of the working directory, or null outside a git checkout. */
  readonly gitSha: string | null;
  /** Whether the checkout had uncommitted changes (null when unknown). */
  readonly gitDirty: boolean | null;
  readonly platform: string;
  readonly arch: string;
  /** Logical CPU count (helps compare wall times). */
  readonly cpus: number;
}

function git(args: string[], cwd: string): string | null {
  try {
    return execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000, encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

const gitCache = new Map<string, { sha: string | null; status: string | null }>();

/**
 * Collects {@link RunMetadata}. Git is asked once per process and directory (5 s time-out; failures give
 * null), so calling this per run folder is cheap.
 */
export function runMetadata(options: { cwd?: string } = {}): RunMetadata {
  const cwd = options.cwd ?? process.cwd();
  let cached = gitCache.get(cwd);
  if (!cached) {
    const sha = git(['rev-parse', 'HEAD'], cwd);
    cached = { sha, status: sha === null ? null : git(['status', '--porcelain', '--untracked-files=no'], cwd) };
    gitCache.set(cwd, cached);
  }
  const { sha, status } = cached;
  let backend = 'none';
  let floatPrecision: number | null = null;
  try {
    backend = tf.getBackend() ?? 'none';
    if (backend !== 'none') floatPrecision = tf.backend().floatPrecision();
  } catch {
    backend = 'none';
  }
  const versions = tf.version as Record<string, string>;
  return {
    node: process.version,
    tfjs: versions.tfjs ?? versions['tfjs-core'] ?? 'unknown',
    backend,
    floatPrecision,
    gitSha: sha && /^[0-9a-f]{40}$/.test(sha) ? sha : null,
    gitDirty: status === null ? null : status.length > 0,
    platform: process.platform,
    arch: process.arch,
    cpus: os.cpus().length,
  };
}
