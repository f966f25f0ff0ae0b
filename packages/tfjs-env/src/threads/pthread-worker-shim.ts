import { Worker as NodeWorker } from 'node:worker_threads';

/**
 * A temporary `globalThis.Worker` that lets Emscripten's pthread pool (tfjs-backend-wasm's threaded build) start
 * in Node.
 *
 * The stock backend hands Emscripten two `blob:` URLs: the pthread worker script (from `locateFile`) and the
 * main script (`mainScriptUrlOrBlob`, a `Blob` holding a bundler-mangled copy of the factory). Node's
 * `worker_threads.Worker` rejects `blob:` URLs (`ERR_WORKER_PATH`, tensorflow/tfjs#3830), and the mangled
 * factory could not run in a worker anyway (it refers to the bundle's `require$$0`, `commonjsGlobal`, tslib
 * helpers). This shim:
 * - ignores the URL and starts the package's own worker glue (`wasm-out/*.worker.js`'s `wasmWorkerContents`)
 *   with `eval: true` and a clean `execArgv` (no tsx/vitest loaders in the pthreads);
 * - rewrites the `load` message's `urlOrBlob` (the Blob) to the path of the unmangled Emscripten factory
 *   (`wasm-out/tfjs-backend-wasm-threaded-simd.js`), which the worker glue reads with `fs.readFileSync`;
 * - keeps every pthread worker unref'd once loaded (`ref()` is a no-op): pthreads only ever work while the main
 *   thread is blocked inside a synchronous wasm call, so they must never keep the process alive (otherwise the
 *   XNNPACK pool's parked threads would stop `node` from exiting). While they load they stay ref'd, so that
 *   start-up (or its failure) keeps the event loop alive;
 * - turns a worker `error` during start-up into a {@link PthreadWorkerPool.failure} instead of Emscripten's
 *   rethrow (which would crash the process with an uncaught exception).
 *
 * Emscripten assigns `global.Worker = require('worker_threads').Worker` when its factory runs, so the shim is
 * installed as an accessor whose setter ignores that assignment; {@link PthreadWorkerPool.uninstall} restores
 * whatever was there before.
 */
export interface PthreadWorkerPool {
  /** Resolves with a reason when a pthread worker fails before {@link markStarted}; never rejects. */
  readonly failure: Promise<string>;
  /** Live pthread workers created through the shim. */
  readonly workers: ReadonlySet<NodeWorker>;
  /** Unrefs every worker; after this, worker errors go to Emscripten's own handler again. */
  markStarted(): void;
  /** Restores the previous `globalThis.Worker` (usually: none). Idempotent. */
  uninstall(): void;
  /** Terminates every worker created through the shim. */
  terminateAll(): Promise<void>;
}

/** Where the shim finds the two scripts a pthread needs. */
export interface PthreadScripts {
  /** JavaScript source of the Emscripten pthread worker glue (run with `eval: true`). */
  readonly workerSource: string;
  /** File path of the unmangled Emscripten factory the worker glue loads with `importScripts`. */
  readonly mainScriptPath: string;
}

interface LoadMessage {
  readonly cmd: 'load';
  readonly urlOrBlob?: unknown;
}

function isLoadMessage(value: unknown): value is LoadMessage {
  return typeof value === 'object' && value !== null && (value as { cmd?: unknown }).cmd === 'load';
}

function describeError(e: unknown): string {
  if (e instanceof Error) return `${e.name}: ${e.message.split('\n')[0] ?? e.message}`;
  return String(e);
}

/** Installs the shim (see {@link PthreadWorkerPool}); call {@link PthreadWorkerPool.uninstall} when done. */
export function installPthreadWorkerShim(scripts: PthreadScripts): PthreadWorkerPool {
  const workers = new Set<NodeWorker>();
  let started = false;
  let reportFailure: (reason: string) => void = () => {};
  const failure = new Promise<string>((resolve) => {
    let done = false;
    reportFailure = (reason) => {
      if (!done) {
        done = true;
        resolve(reason);
      }
    };
  });

  class PthreadWorker extends NodeWorker {
    constructor(url?: unknown) {
      super(scripts.workerSource, { eval: true, execArgv: [] });
      if (typeof url === 'string' && url.startsWith('blob:')) URL.revokeObjectURL(url);
      // Stays ref'd while it loads (Emscripten unrefs it on 'loaded'), so start-up keeps the event loop alive.
      workers.add(this);
      this.once('exit', (code: number) => {
        workers.delete(this);
        if (!started && code !== 0) reportFailure(`a pthread worker exited with code ${code} during start-up`);
      });
    }

    /** Pthreads never keep the process alive (see {@link PthreadWorkerPool}). */
    override ref(): void {}

    override postMessage(value: unknown, transferList?: Parameters<NodeWorker['postMessage']>[1]): void {
      const msg = isLoadMessage(value) && typeof value.urlOrBlob !== 'string' ? { ...value, urlOrBlob: scripts.mainScriptPath } : value;
      super.postMessage(msg, transferList);
    }

    // eslint-disable-next-line @typescript-eslint/no-explicit-any -- must match Node's Worker.on(event, listener: (...args: any[]) => void)
    override on(event: string | symbol, listener: (...args: any[]) => void): this {
      if (event !== 'error') return super.on(event, listener);
      return super.on('error', (e: unknown) => {
        if (!started) reportFailure(`a pthread worker failed: ${describeError(e)}`);
        else listener(e);
      });
    }
  }

  const previous = Object.getOwnPropertyDescriptor(globalThis, 'Worker');
  Object.defineProperty(globalThis, 'Worker', {
    configurable: true,
    enumerable: false,
    get: () => PthreadWorker,
    set: () => {
      /* Emscripten's `global.Worker = worker_threads.Worker` is ignored while the shim is installed. */
    },
  });
  let installed = true;

  return {
    failure,
    workers,
    markStarted: () => {
      started = true;
      for (const w of workers) w.unref();
    },
    uninstall: () => {
      if (!installed) return;
      installed = false;
      if (previous) Object.defineProperty(globalThis, 'Worker', previous);
      else delete (globalThis as { Worker?: unknown }).Worker;
    },
    terminateAll: async () => {
      await Promise.all([...workers].map((w) => w.terminate()));
    },
  };
}
