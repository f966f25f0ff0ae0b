import * as tf from '@tensorflow/tfjs';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { availableParallelism } from 'node:os';
import { dirname, join } from 'node:path';
import { ConfigError } from '@promptkd/core';
import { installPthreadWorkerShim, type PthreadScripts } from './pthread-worker-shim.js';

/** What {@link enableWasmThreads} achieved. */
export interface WasmThreadsResult {
  /** Threads XNNPACK now uses (or will use, after a fallback) on the wasm backend; 1 = single-threaded. */
  readonly threads: number;
  /** Why `threads` is lower than requested (missing support, start-up failure, already initialised, ...). */
  readonly reason?: string;
}

/** Options of {@link enableWasmThreads}. */
export interface EnableWasmThreadsOptions {
  /** Give up on the threaded build (and fall back to one thread) if it has not started after this long. Default 60 s. */
  readonly timeoutMs?: number;
  /**
   * Overrides the path of the Emscripten factory the pthreads load. For tests (failure injection).
   * @internal
   */
  readonly mainScriptPath?: string;
}

/** Emscripten pre-spawns 8 pthread workers and tfjs caps the pool at 8 (`max_num_threads`). */
const MAX_THREADS = 8;
const WASM_PRIORITY = 2;

interface WasmModuleApi {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
}

interface EngineInternals {
  registry: Record<string, unknown>;
}

const require = createRequire(import.meta.url);

function locateThreadedScripts(mainScriptPath?: string): PthreadScripts | string {
  let pkgDir: string;
  try {
    pkgDir = dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json'));
  } catch {
    return 'cannot resolve @tensorflow/tfjs-backend-wasm/package.json';
  }
  const main = mainScriptPath ?? join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.js');
  const worker = join(pkgDir, 'wasm-out', 'tfjs-backend-wasm-threaded-simd.worker.js');
  if (mainScriptPath === undefined && !existsSync(main)) return `the threaded Emscripten factory is missing (${main})`;
  if (!existsSync(worker)) return `the pthread worker glue is missing (${worker})`;
  const contents = (require(worker) as { wasmWorkerContents?: unknown }).wasmWorkerContents;
  if (typeof contents !== 'string') return `${worker} does not export wasmWorkerContents`;
  // As the stock backend does before making its Blob: the template literal turned "\n" escapes into newlines.
  return { workerSource: contents.replace(/\n/g, '\\n'), mainScriptPath: main };
}

async function missingSupport(): Promise<string | undefined> {
  if (typeof SharedArrayBuffer !== 'function') return 'SharedArrayBuffer is not available';
  try {
    new WebAssembly.Memory({ initial: 1, maximum: 1, shared: true });
  } catch {
    return 'WebAssembly shared memory (the threads proposal) is not supported by this runtime';
  }
  if (!(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'))) return 'WebAssembly SIMD is not supported (tfjs ships threads only in the SIMD build)';
  return undefined;
}

/**
 * `tf-backend-wasm` caps the XNNPACK pool at `emscripten_num_logical_cores() / 2` (it assumes two hyper-threads
 * per core), i.e. 1 thread on a 2-vCPU machine, whatever `setThreadsCount` says. In Node that function is
 * `require('os').cpus().length`, evaluated once by a C++ static initialiser during start-up. We report `2 × n`
 * CPUs during that window so the cap becomes `n` (never more than the real logical cores: `n` is clamped first).
 */
function reportCpusForCap(n: number): () => void {
  const os = require('node:os') as { cpus: () => unknown[] };
  const real = os.cpus;
  os.cpus = function cpus(this: unknown) {
    const list = real.call(os);
    const out: unknown[] = [];
    while (list.length > 0 && out.length < 2 * n) out.push(list[out.length % list.length]);
    return out;
  };
  return () => {
    os.cpus = real;
  };
}

/**
 * Makes the TensorFlow.js wasm backend run XNNPACK kernels on `threads` threads in Node (tfjs's threaded-SIMD
 * build, stock API), and initialises it. Call it **before** `tf.setBackend('wasm')` / the first use of wasm,
 * after `@tensorflow/tfjs-backend-wasm` has been loaded; the later `tf.setBackend('wasm')` is then a no-op.
 *
 * Never throws for a missing capability: it falls back to the stock single-threaded backend and says why in
 * `reason`. In that case the wasm backend is registered but not yet initialised, exactly as before the call.
 * If wasm is already initialised, nothing changes and the current count is returned (with a reason if it
 * differs), so calling it again is harmless.
 *
 * Caveats: pthreads are Node worker threads sharing the wasm memory (8 are pre-spawned, ≈ 1–4 s start-up on a
 * busy machine); they are unref'd, so the process still exits by itself. Do not enable threads in several
 * processes that share the same cores (e.g. parallel test workers): spin-waiting threads then slow each other.
 *
 * @param threads - XNNPACK threads to use, including the calling thread; clamped to the logical cores and to 8.
 * @example
 * await import('@tensorflow/tfjs-backend-wasm');
 * const { threads, reason } = await enableWasmThreads(2);
 * await tf.setBackend('wasm'); // no-op when threads > 1; initialises the single-threaded backend after a fallback
 */
export async function enableWasmThreads(threads: number, options: EnableWasmThreadsOptions = {}): Promise<WasmThreadsResult> {
  if (!Number.isInteger(threads) || threads < 1) {
    throw new ConfigError(`enableWasmThreads: threads must be an integer >= 1, got ${String(threads)}.`, { field: 'threads', value: threads });
  }
  const timeoutMs = options.timeoutMs ?? 60_000;
  const wasm = (await import('@tensorflow/tfjs-backend-wasm')) as unknown as WasmModuleApi;
  const engine = tf.engine() as unknown as EngineInternals;
  if (engine.registry['wasm'] !== undefined) {
    const current = wasm.getThreadsCount();
    if (current === threads) return { threads: current };
    return {
      threads: current,
      reason: `the wasm backend was already initialised with ${current} thread(s); call enableWasmThreads before its first initialisation (tf.setBackend('wasm'))`,
    };
  }
  const factory = tf.findBackendFactory('wasm');
  if (!factory) return { threads: 1, reason: "no 'wasm' backend is registered (two copies of @tensorflow/tfjs-core?)" };
  if (threads === 1) return { threads: 1 };

  const cores = availableParallelism();
  const n = Math.min(threads, cores, MAX_THREADS);
  const clamped = n < threads ? `clamped to ${n}: ${cores} logical core(s), at most ${MAX_THREADS} threads` : undefined;
  if (n === 1) return { threads: 1, reason: clamped };
  const missing = await missingSupport();
  if (missing) return { threads: 1, reason: missing };
  const scripts = locateThreadedScripts(options.mainScriptPath);
  if (typeof scripts === 'string') return { threads: 1, reason: scripts };

  const pool = installPthreadWorkerShim(scripts);
  const restoreCpus = reportCpusForCap(n);
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(n);
  let timer: ReturnType<typeof setTimeout> | undefined;
  let failure: string | undefined;
  try {
    const timedOut = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve(`the threaded backend did not start within ${timeoutMs} ms`), timeoutMs);
    });
    const init = tf.setBackend('wasm').then(
      (ok) => (ok ? undefined : 'tf.setBackend returned false (see the warning above)'),
      (err: unknown) => `initialisation failed: ${err instanceof Error ? err.message : String(err)}`,
    );
    failure = await Promise.race([init, pool.failure, timedOut]);
  } finally {
    clearTimeout(timer);
    restoreCpus();
    pool.uninstall();
  }

  if (failure === undefined) {
    pool.markStarted();
    const actual = wasm.getThreadsCount();
    if (actual !== n) return { threads: actual, reason: `XNNPACK started ${actual} thread(s) instead of ${n}` };
    return clamped ? { threads: n, reason: clamped } : { threads: n };
  }

  // Fall back to the stock single-threaded backend: drop the half-started instance and re-register the factory.
  await pool.terminateAll();
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', false);
  wasm.setThreadsCount(1);
  if (tf.findBackendFactory('wasm')) tf.removeBackend('wasm');
  tf.registerBackend('wasm', factory, WASM_PRIORITY);
  return { threads: 1, reason: `multithreaded wasm failed to start (${failure}); falling back to 1 thread` };
}
