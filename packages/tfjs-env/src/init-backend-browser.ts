import * as tf from '@tensorflow/tfjs';
import { BackendError, ConfigError } from '@promptkd/core';
import { backendLine } from './backend-line.js';
import type { BackendChoice } from './init-backend.js';
import { registerTrainingKernelsFor } from './kernels/other-backends.js';
import { registerWasmTrainingKernels } from './kernels/index.js';

/** Backend names accepted by the browser {@link initBackend}. */
export type BrowserBackendName = 'auto' | 'webgpu' | 'webgl' | 'wasm' | 'cpu';

const BROWSER_BACKEND_NAMES: readonly BrowserBackendName[] = ['auto', 'webgpu', 'webgl', 'wasm', 'cpu'];

/** Options of the browser {@link initBackend}. */
export interface InitBrowserBackendOptions {
  /** Which backend to use; default `auto` (webgpu → webgl → wasm → cpu). */
  readonly backend?: BrowserBackendName;
  /**
   * Where the wasm backend's `.wasm` files are served (a folder URL ending in `/`, or one URL per file), passed to
   * `setWasmPaths`. Default: next to the page's script, as `@tensorflow/tfjs-backend-wasm` does by itself.
   */
  readonly wasmPaths?: string | Record<string, string>;
  /** Called with the one-line report (and one line per skipped backend). Default: silent. */
  readonly log?: (line: string) => void;
}

interface Candidate {
  readonly group: Exclude<BrowserBackendName, 'auto'>;
  readonly pkg: string;
  /** Registers the backend's factory (a literal dynamic import, so bundlers include and split it). */
  readonly load: (options: InitBrowserBackendOptions) => Promise<void>;
}

const CANDIDATES: readonly Candidate[] = [
  {
    group: 'webgpu',
    pkg: '@tensorflow/tfjs-backend-webgpu',
    load: async () => {
      const gpu = (globalThis.navigator as { gpu?: { requestAdapter(): Promise<unknown> } } | undefined)?.gpu;
      if (!gpu) throw new Error('this browser exposes no WebGPU (navigator.gpu is undefined)');
      if (!(await gpu.requestAdapter())) throw new Error('WebGPU is present but offers no adapter (no usable GPU)');
      await import('@tensorflow/tfjs-backend-webgpu');
    },
  },
  {
    group: 'webgl',
    pkg: '@tensorflow/tfjs-backend-webgl',
    // Shapes as uniforms: one shader per op instead of one per op and shape (far fewer compilations; same values).
    load: async () => void tf.env().set('WEBGL_USE_SHAPES_UNIFORMS', true),
  },
  {
    group: 'wasm',
    pkg: '@tensorflow/tfjs-backend-wasm',
    load: async (options) => {
      const wasm = await import('@tensorflow/tfjs-backend-wasm');
      if (options.wasmPaths !== undefined) wasm.setWasmPaths(options.wasmPaths as string);
    },
  },
  { group: 'cpu', pkg: '@tensorflow/tfjs-backend-cpu', load: async () => {} },
];

/** The one-line report of a choice (the same line as in Node). */
export function browserBackendReport(choice: BackendChoice): string {
  return backendLine(choice.backend, choice.package, choice.patches.length, choice.threads, undefined, choice.native);
}

/**
 * Chooses and initialises the TensorFlow.js backend in a browser: the browser side of `initBackend`, picked by the
 * `browser` export condition of `@promptkd/tfjs-env`. `auto` tries WebGPU, WebGL, wasm and the cpu backend, in that
 * order, and uses the first that initialises (`skipped` says why the others were not). It registers the training
 * kernels the chosen backend lacks (on wasm the same as in Node; see the README's browser table). Call it once,
 * before creating any tensor.
 * @throws ConfigError for an unknown backend name; BackendError when no candidate initialises.
 */
export async function initBackend(options: InitBrowserBackendOptions = {}): Promise<BackendChoice> {
  const requested = options.backend ?? 'auto';
  if (!BROWSER_BACKEND_NAMES.includes(requested)) {
    throw new ConfigError(`Unknown backend '${String(requested)}'. Valid in a browser: ${BROWSER_BACKEND_NAMES.join(', ')}.`, {
      field: 'backend',
      value: requested,
      valid: BROWSER_BACKEND_NAMES,
    });
  }
  const log = options.log ?? (() => {});
  const candidates = requested === 'auto' ? CANDIDATES : CANDIDATES.filter((c) => c.group === requested);
  const skipped: { package: string; reason: string }[] = [];
  for (const cand of candidates) {
    try {
      await cand.load(options);
      if (!tf.findBackendFactory(cand.group)) throw new Error(`the package registered no '${cand.group}' backend (two copies of tfjs-core?)`);
      const ok = await tf.setBackend(cand.group);
      if (!ok) throw new Error(`tf.setBackend('${cand.group}') returned false`);
      await tf.ready();
      const patches = cand.group === 'wasm' ? registerWasmTrainingKernels() : registerTrainingKernelsFor(cand.group);
      const choice: BackendChoice = {
        backend: tf.getBackend(),
        package: cand.pkg,
        skipped,
        patches,
        threads: 1,
        native: { active: false, threads: 0, reason: 'not in a browser' },
      };
      for (const s of skipped) log(`promptkd: skipped ${s.package}: ${s.reason}`);
      log(browserBackendReport(choice));
      return choice;
    } catch (err) {
      skipped.push({ package: cand.pkg, reason: err instanceof Error ? (err.message.split('\n')[0] ?? err.message) : String(err) });
    }
  }
  const detail = skipped.map((s) => `  - ${s.package}: ${s.reason}`).join('\n');
  throw new BackendError(`No usable TensorFlow.js backend for '${requested}' in this browser:\n${detail}\nUse backend 'auto' (falls back to cpu).`, {
    requested,
    skipped,
  });
}
