import * as tf from '@tensorflow/tfjs';
import { BackendError, ConfigError } from '@promptkd/core';
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { backendLine } from './backend-line.js';
import { registerWasmTrainingKernels } from './kernels/index.js';
import { registerTrainingKernelsFor } from './kernels/other-backends.js';
import { registerNativeKernels, type NativeKernelsAddon } from './kernels/native/index.js';
import { enableWasmThreads } from './threads/index.js';
import { installLeanGradients } from './lean-gradients.js';
import { registerGradientOverrides } from './gradients/index.js';

/** Backend names accepted by {@link initBackend}. `tensorflow` is tfjs-node(-gpu). */
export type BackendName = 'auto' | 'tensorflow' | 'wasm' | 'cpu';

const BACKEND_NAMES: readonly BackendName[] = ['auto', 'tensorflow', 'wasm', 'cpu'];

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** Which backend to use; defaults to `PROMPTKD_BACKEND` or `auto`. */
  readonly backend?: BackendName;
  /**
   * XNNPACK threads for the wasm backend (both cores in Node through a pthread-worker shim). Default:
   * `PROMPTKD_WASM_THREADS`, else 1; `'auto'` = all cores, or 1 when the native kernels will run (their OpenMP
   * threads take the cores, and XNNPACK's workers, which spin after each of the few kernels left to wasm, slowed
   * them by 3–30 %). Falls back to 1 thread, with a reason, if threads cannot start.
   */
  readonly wasmThreads?: number | 'auto';
  /**
   * Native kernels on wasm (`@promptkd/native-kernels`: OpenBLAS GEMM and convolutions on the wasm heap).
   * `'auto'` (default, or `PROMPTKD_NATIVE=auto`) uses them when the addon is installed and built; `true`
   * (`PROMPTKD_NATIVE=1`) requires them and throws {@link BackendError} otherwise; `false` (`PROMPTKD_NATIVE=0`) never.
   */
  readonly native?: boolean | 'auto';
  /** Threads of the native kernels. Default: `PROMPTKD_NATIVE_THREADS`, else all cores. */
  readonly nativeThreads?: number;
  /**
   * Memory-lean backpropagation ({@link installLeanGradients}: same gradients, activations and intermediate
   * gradients released as the backward pass goes). Default true; `PROMPTKD_LEAN_GRADIENTS=0` turns it off.
   */
  readonly leanGradients?: boolean;
  /**
   * Called once with the one-line summary: backend, threads, kernel set and, when a faster engine is possible on
   * this machine, the command that gets it. Default: silent.
   */
  readonly log?: (line: string) => void;
  /**
   * Called with the details behind that line: why each skipped backend was skipped, why the native kernels are
   * off. Default: standard error when `PROMPTKD_LOG=debug`, else silent.
   */
  readonly debug?: (line: string) => void;
  /**
   * Module loader, injectable for tests. Default: dynamic `import()`.
   * @internal
   */
  readonly importModule?: (specifier: string) => Promise<unknown>;
}

/** What {@link initBackend} chose and why the others were skipped. */
export interface BackendChoice {
  /** The tfjs backend now active: `tensorflow`, `wasm` or `cpu`. */
  readonly backend: string;
  /** The package that provides it. */
  readonly package: string;
  /** Candidates that were tried and skipped, with the reason. */
  readonly skipped: ReadonlyArray<{ readonly package: string; readonly reason: string }>;
  /** Kernels/gradients promptkd registered on top of the stock backend. */
  readonly patches: readonly string[];
  /** Threads the wasm backend runs with (1 on other backends), and why fewer than asked, if so. */
  readonly threads: number;
  readonly threadsReason?: string;
  /** Whether native kernels run the wasm backend's matmuls and convolutions, on how many threads, or why not. */
  readonly native: NativeChoice;
}

/** The native kernels' part of a {@link BackendChoice}. */
export interface NativeChoice {
  readonly active: boolean;
  readonly threads: number;
  /** Why they are off. */
  readonly reason?: string;
  /** What runs GEMMs and convolutions when active, e.g. `oneDNN 2.6.3` or `built-in SGEMM (AVX-512)`. */
  readonly engine?: string;
  /** How to get a faster engine on this machine (a command), when one is possible. */
  readonly faster?: string;
}

interface Candidate {
  readonly pkg: string;
  readonly tfName: string;
  readonly group: Exclude<BackendName, 'auto'>;
}

const CANDIDATES: readonly Candidate[] = [
  { pkg: '@tensorflow/tfjs-node-gpu', tfName: 'tensorflow', group: 'tensorflow' },
  { pkg: '@tensorflow/tfjs-node', tfName: 'tensorflow', group: 'tensorflow' },
  { pkg: '@tensorflow/tfjs-backend-wasm', tfName: 'wasm', group: 'wasm' },
  { pkg: '@tensorflow/tfjs-backend-cpu', tfName: 'cpu', group: 'cpu' },
];

const TFJS_NODE_HINT =
  'tfjs-node is optional. Its install script downloads libtensorflow 2.9.1, which fails offline and, since ' +
  'tensorflow/tfjs#8742, sometimes online too. To use it, supply libtensorflow yourself: put the tarball on a ' +
  'local mirror and set TFJS_NODE_CDN_STORAGE (or TFJS_NODE_BASE_URI) before `npm install @tensorflow/tfjs-node`.';

function describeImportError(pkg: string, err: unknown): string {
  const code = (err as { code?: string }).code;
  const msg = err instanceof Error ? err.message : String(err);
  if (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND' || /Cannot find (module|package)|Could not resolve|Failed to load url/.test(msg)) {
    return pkg.startsWith('@tensorflow/tfjs-node') ? `not installed. ${TFJS_NODE_HINT}` : 'not installed.';
  }
  return `failed to load: ${msg.split('\n')[0] ?? msg}`;
}

function resolveRequested(options: InitBackendOptions): BackendName {
  const raw = options.backend ?? (process.env.PROMPTKD_BACKEND as BackendName | undefined) ?? 'auto';
  if (!BACKEND_NAMES.includes(raw)) {
    throw new ConfigError(
      `Unknown backend '${String(raw)}'${options.backend ? '' : ' (from PROMPTKD_BACKEND)'}. ` +
        `Valid: ${BACKEND_NAMES.join(', ')}.`,
      { field: 'backend', value: raw, valid: BACKEND_NAMES },
    );
  }
  return raw;
}

/**
 * Chooses and initialises the TensorFlow.js backend: the only place in promptkd where this happens.
 *
 * `auto` tries `@tensorflow/tfjs-node-gpu`, `@tensorflow/tfjs-node`, the wasm backend and the cpu backend,
 * in that order, by dynamic import. On wasm it registers the training kernels the stock backend lacks
 * (see {@link registerWasmTrainingKernels}). Call it once, before creating any tensor.
 *
 * @example
 * const choice = await initBackend({ backend: 'auto', log: console.log });
 * console.log(choice.backend); // 'wasm' on a machine without tfjs-node
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendChoice> {
  const requested = resolveRequested(options);
  const log = options.log ?? (() => {});
  const debug = options.debug ?? (process.env.PROMPTKD_LOG === 'debug' ? (l: string) => process.stderr.write(`${l}\n`) : () => {});
  const load = options.importModule ?? ((s: string) => import(s));
  const candidates = requested === 'auto' ? CANDIDATES : CANDIDATES.filter((c) => c.group === requested);
  const skipped: { package: string; reason: string }[] = [];

  for (const cand of candidates) {
    let threads = 1;
    let threadsReason: string | undefined;
    try {
      if (cand.pkg !== '@tensorflow/tfjs-backend-cpu') await load(cand.pkg);
      if (!tf.findBackendFactory(cand.tfName)) {
        throw new Error(`the package loaded but registered no '${cand.tfName}' backend (two copies of tfjs-core?)`);
      }
      if (cand.tfName === 'wasm') {
        const raw = options.wasmThreads ?? process.env.PROMPTKD_WASM_THREADS ?? 1;
        const nativeTakesCores = raw === 'auto' && (await nativeAddonLoads(options, load));
        const want = raw === 'auto' ? (nativeTakesCores ? 1 : availableParallelism()) : Number(raw);
        if (!Number.isInteger(want) || want < 1) {
          throw new ConfigError(`wasmThreads must be a positive integer or 'auto', got '${String(raw)}'.`, {
            field: 'wasmThreads',
          });
        }
        ({ threads, reason: threadsReason } = await enableWasmThreads(want));
        if (nativeTakesCores) threadsReason ??= AUTO_WITH_NATIVE;
      }
      const ok = await tf.setBackend(cand.tfName);
      if (!ok) throw new Error(`tf.setBackend('${cand.tfName}') returned false`);
      await tf.ready();
      const patches = tf.getBackend() === 'wasm' ? registerWasmTrainingKernels() : registerTrainingKernelsFor(tf.getBackend());
      if ((options.leanGradients ?? process.env.PROMPTKD_LEAN_GRADIENTS !== '0') && installLeanGradients()) patches.push('gradients (lean)');
      patches.push(...registerGradientOverrides().map((n) => `${n} gradient`));
      const native = tf.getBackend() === 'wasm' ? await setUpNative(options, load) : { active: false, threads: 0, reason: 'not on wasm' };
      if (native.active) patches.push(...NATIVE_PATCH_NAMES.map((n) => `${n} (native)`));
      for (const s of skipped) debug(`promptkd: skipped ${s.package}: ${s.reason}`);
      if (tf.getBackend() === 'wasm' && !native.active) debug(`promptkd: native kernels off: ${native.reason}`);
      log(backendLine(tf.getBackend(), cand.pkg, patches.length, threads, threadsReason, native));
      return { backend: tf.getBackend(), package: cand.pkg, skipped, patches, threads, threadsReason, native };
    } catch (err) {
      if (err instanceof ConfigError || err instanceof NativeRequiredError) throw err;
      skipped.push({ package: cand.pkg, reason: describeImportError(cand.pkg, err) });
    }
  }
  const detail = skipped.map((s) => `  - ${s.package}: ${s.reason}`).join('\n');
  throw new BackendError(
    `No usable TensorFlow.js backend for '${requested}':\n${detail}\n` +
      "Use backend 'auto' (falls back to wasm, then cpu) or install the missing package.",
    { requested, skipped },
  );
}

const NATIVE_PATCH_NAMES = ['BatchMatMul', 'Conv2D', 'Conv2DBackpropInput', 'Conv2DBackpropFilter'];

/**
 * Why `wasmThreads: 'auto'` chose one XNNPACK thread: the native kernels will run. Measured on 2 cores (AMD EPYC,
 * steps after warm-up, 1 vs 2 XNNPACK threads): KDP student step 23.9 vs 27.5 ms, KiOP demo synthesis iteration
 * 139 vs 150 ms, resnet18-cifar 388 vs 402 ms; a ResNet-18 prompt server 150–156 vs 114–122 requests/s batched and
 * 66–67 vs 51–59 one at a time (scripts/bench/README.md, "One pool").
 */
const AUTO_WITH_NATIVE = "1 for 'auto' with the native kernels: their OpenMP threads take the cores";

/** Whether the native kernels will run (asked for or 'auto', and the addon loads); nothing is registered yet. */
async function nativeAddonLoads(options: InitBackendOptions, load: (s: string) => Promise<unknown>): Promise<boolean> {
  if (resolveNative(options) === false) return false;
  try {
    const mod = (await load('@promptkd/native-kernels')) as { loadNativeAddon(): NativeKernelsAddon };
    mod.loadNativeAddon();
    return true;
  } catch {
    return false;
  }
}

/** A BackendError raised because `native: true` was asked and the addon is unavailable (not a reason to try the next backend). */
class NativeRequiredError extends BackendError {}

function resolveNative(options: InitBackendOptions): boolean | 'auto' {
  if (options.native !== undefined) return options.native;
  const raw = process.env.PROMPTKD_NATIVE;
  if (raw === undefined || raw === '' || raw === 'auto') return 'auto';
  if (['1', 'true', 'on'].includes(raw)) return true;
  if (['0', 'false', 'off'].includes(raw)) return false;
  throw new ConfigError(`PROMPTKD_NATIVE must be auto, 1 or 0, got '${raw}'.`, { field: 'native', value: raw, valid: ['auto', '1', '0'] });
}

/** The Debian/Ubuntu packages that give the native kernels their fastest engines, and the rebuild. */
const FASTER_ENGINES = 'sudo apt-get install libopenblas-dev libdnnl-dev, then npx promptkd-build-native';

/**
 * How to get the faster engines here: only the rebuild when oneDNN's headers are already installed (the addon was
 * built before them), else the packages and the rebuild.
 */
function fasterEnginesHint(headers: readonly string[] = ['/usr/include/oneapi/dnnl/dnnl.hpp', '/usr/local/include/oneapi/dnnl/dnnl.hpp']): string {
  return headers.some((h) => existsSync(h)) ? 'npx promptkd-build-native (the oneDNN headers are installed; this build predates them)' : FASTER_ENGINES;
}

async function setUpNative(options: InitBackendOptions, load: (s: string) => Promise<unknown>): Promise<NativeChoice> {
  const want = resolveNative(options);
  if (want === false) return { active: false, threads: 0, reason: 'disabled' };
  const rawThreads = options.nativeThreads ?? process.env.PROMPTKD_NATIVE_THREADS ?? availableParallelism();
  const threads = Number(rawThreads);
  if (!Number.isInteger(threads) || threads < 1) {
    throw new ConfigError(`nativeThreads must be a positive integer, got '${String(rawThreads)}'.`, { field: 'nativeThreads' });
  }
  let addon: NativeKernelsAddon;
  try {
    const mod = (await load('@promptkd/native-kernels')) as { loadNativeAddon(): NativeKernelsAddon };
    addon = mod.loadNativeAddon();
  } catch (err) {
    const reason = describeImportError('@promptkd/native-kernels', err);
    if (want === true) throw new NativeRequiredError(`Native kernels were required (native: true / PROMPTKD_NATIVE=1) but ${reason}`, { reason }, { cause: err });
    const status = (err as { details?: { status?: { built?: boolean; fix?: string } } }).details?.status;
    const faster = status && !status.built && status.fix ? status.fix : 'npx promptkd-build-native';
    return { active: false, threads: 0, reason, faster: reason === 'not installed.' ? undefined : faster };
  }
  addon.setThreads(threads);
  registerNativeKernels(addon);
  const engine = typeof addon.engine === 'function' ? (addon.engine as () => string)() : undefined;
  const engines = typeof addon.engines === 'function' ? (addon.engines as () => string[])() : [];
  return { active: true, threads: addon.getThreads(), engine, faster: engines.includes('onednn') ? undefined : fasterEnginesHint() };
}
