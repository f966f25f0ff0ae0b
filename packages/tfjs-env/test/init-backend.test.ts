import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, BackendError } from '@promptkd/core';
import { initBackend } from '@promptkd/tfjs-env';

describe('initBackend', () => {
  afterAll(async () => {
    await initBackend({ backend: 'wasm' });
  });

  it('forces a backend', async () => {
    const c = await initBackend({ backend: 'cpu' });
    expect(c.backend).toBe('cpu');
    expect(tf.getBackend()).toBe('cpu');
    const w = await initBackend({ backend: 'wasm' });
    expect(w.backend).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
  });

  it('falls through missing optional backends in auto mode: one summary line, the reasons as debug lines', async () => {
    const lines: string[] = [];
    const details: string[] = [];
    const c = await initBackend({ backend: 'auto', native: false, log: (l) => lines.push(l), debug: (l) => details.push(l) });
    // tfjs-node(-gpu) are not dependencies of this repo: auto must skip both and land on wasm.
    expect(c.backend).toBe('wasm');
    expect(c.skipped.map((s) => s.package)).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
    expect(c.skipped[1]?.reason).toMatch(/not installed.*TFJS_NODE_CDN_STORAGE/s);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^promptkd: backend wasm, 1 thread, wasm kernels \(XNNPACK \+ \d+ promptkd training kernels\), native kernels off$/);
    expect(details.join('\n')).toMatch(/skipped @tensorflow\/tfjs-node-gpu: not installed.*\n.*skipped @tensorflow\/tfjs-node: not installed.*\n.*native kernels off: disabled/);
  });

  it('names the native engine in the summary line and, without oneDNN, how to get the faster engines', async () => {
    const addon = {
      setThreads: () => {},
      getThreads: () => 2,
      engine: () => 'built-in SGEMM (AVX2)',
      engines: () => ['builtin'],
    };
    const lines: string[] = [];
    const importModule = async (s: string) => (s === '@promptkd/native-kernels' ? { loadNativeAddon: () => addon } : import(s));
    const { unregisterNativeKernels } = await import('@promptkd/tfjs-env');
    try {
      const c = await initBackend({ backend: 'wasm', native: 'auto', importModule, log: (l) => lines.push(l) });
      expect(c.native).toMatchObject({ active: true, threads: 2, engine: 'built-in SGEMM (AVX2)' });
      // the hint names the packages, or only the rebuild when oneDNN's headers are already here (CI runs both)
      const headers = ['/usr/include/oneapi/dnnl/dnnl.hpp', '/usr/local/include/oneapi/dnnl/dnnl.hpp'].some((h) => existsSync(h));
      expect(lines[0]).toMatch(
        headers
          ? /native kernels \(built-in SGEMM \(AVX2\)\) on 2 threads\. Faster here: npx promptkd-build-native \(the oneDNN headers are installed; this build predates them\)$/
          : /native kernels \(built-in SGEMM \(AVX2\)\) on 2 threads\. Faster here: sudo apt-get install libopenblas-dev libdnnl-dev, then npx promptkd-build-native$/,
      );
    } finally {
      unregisterNativeKernels();
    }
  });

  it("gives XNNPACK one thread for wasmThreads 'auto' when the native kernels will run, all cores when they will not", async () => {
    const addon = { setThreads: () => {}, getThreads: () => 2, engine: () => 'oneDNN 2.6.3', engines: () => ['onednn', 'builtin'] };
    const importModule = async (s: string) => (s === '@promptkd/native-kernels' ? { loadNativeAddon: () => addon } : import(s));
    const { unregisterNativeKernels } = await import('@promptkd/tfjs-env');
    const lines: string[] = [];
    try {
      const c = await initBackend({ backend: 'wasm', wasmThreads: 'auto', native: 'auto', importModule, log: (l) => lines.push(l) });
      expect(c.threads).toBe(1);
      expect(c.threadsReason).toMatch(/^1 for 'auto' with the native kernels/);
      expect(lines[0]).toMatch(/^promptkd: backend wasm, 1 thread \(1 for 'auto' with the native kernels\), native kernels \(oneDNN 2\.6\.3\) on 2 threads$/);
    } finally {
      unregisterNativeKernels();
    }
    // without them 'auto' asks for every core (this process's wasm backend already runs, so it says it keeps 1)
    const off = await initBackend({ backend: 'wasm', wasmThreads: 'auto', native: false, debug: () => {} });
    if (availableParallelism() > 1) expect(off.threadsReason).toMatch(/already initialised with 1 thread/);
    else expect(off.threadsReason).toBeUndefined();
  });

  it("says how to build the native kernels when their build failed, with the build's own fix", async () => {
    const { BackendError: NativeError } = await import('@promptkd/core');
    const importModule = async (s: string) =>
      s === '@promptkd/native-kernels'
        ? {
            loadNativeAddon: () => {
              throw new NativeError('promptkd native kernels are not available (no C/C++ compiler found)', {
                status: { built: false, fix: 'install one (Debian/Ubuntu: sudo apt-get install g++), then run npx promptkd-build-native' },
              });
            },
          }
        : import(s);
    const lines: string[] = [];
    const c = await initBackend({ backend: 'wasm', native: 'auto', importModule, log: (l) => lines.push(l), debug: () => {} });
    expect(c.native.active).toBe(false);
    expect(lines[0]).toMatch(/native kernels off\. Faster here: install one \(Debian\/Ubuntu: sudo apt-get install g\+\+\), then run npx promptkd-build-native$/);
  });

  it('falls through a backend whose import throws', async () => {
    const c = await initBackend({
      backend: 'auto',
      importModule: async (s) => {
        if (s.includes('wasm')) throw new Error('wasm binary corrupt');
        return import(s);
      },
    });
    expect(c.backend).toBe('cpu');
    expect(c.skipped.find((s) => s.package.endsWith('wasm'))?.reason).toMatch(/failed to load: wasm binary corrupt/);
  });

  it('explains a forced backend that is missing', async () => {
    await expect(initBackend({ backend: 'tensorflow' })).rejects.toThrow(BackendError);
    await expect(initBackend({ backend: 'tensorflow' })).rejects.toThrow(/tfjs-node: not installed/);
  });

  it('rejects an unknown name with the valid ones', async () => {
    await expect(initBackend({ backend: 'gpu' as never })).rejects.toThrow(ConfigError);
    await expect(initBackend({ backend: 'gpu' as never })).rejects.toThrow(/Valid: auto, tensorflow, wasm, cpu/);
  });

  it('reads PROMPTKD_BACKEND', async () => {
    process.env.PROMPTKD_BACKEND = 'cpu';
    try {
      expect((await initBackend()).backend).toBe('cpu');
    } finally {
      delete process.env.PROMPTKD_BACKEND;
    }
  });
});
