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

  it('falls through missing optional backends in auto mode and says why', async () => {
    const lines: string[] = [];
    const c = await initBackend({ backend: 'auto', log: (l) => lines.push(l) });
    // tfjs-node(-gpu) are not dependencies of this repo: auto must skip both and land on wasm.
    expect(c.backend).toBe('wasm');
    expect(c.skipped.map((s) => s.package)).toEqual(['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']);
    expect(c.skipped[1]?.reason).toMatch(/not installed.*TFJS_NODE_CDN_STORAGE/s);
    expect(lines.join('\n')).toMatch(/using backend 'wasm'/);
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
