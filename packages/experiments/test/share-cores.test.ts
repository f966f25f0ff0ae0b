import { availableParallelism } from 'node:os';
import { describe, expect, it } from 'vitest';
import { shareCoresAmongJobs } from '@promptkd/experiments';

describe('shareCoresAmongJobs', () => {
  it('gives each job ⌊cores/jobs⌋ native threads, at least one', () => {
    const cores = availableParallelism();
    const env: NodeJS.ProcessEnv = {};
    expect(shareCoresAmongJobs(1, env)).toBe(cores);
    expect(env.PROMPTKD_NATIVE_THREADS).toBe(String(cores));
    const many: NodeJS.ProcessEnv = {};
    expect(shareCoresAmongJobs(cores * 4, many)).toBe(1);
    expect(many.PROMPTKD_WASM_THREADS).toBe('1');
  });

  it("gives each job ⌊cores/jobs⌋ wasm threads where the user left it unset or 'auto' (one job with every core: 'auto'), and keeps a number", () => {
    const cores = availableParallelism();
    const auto: NodeJS.ProcessEnv = { PROMPTKD_WASM_THREADS: 'auto' };
    shareCoresAmongJobs(1, auto);
    expect(auto.PROMPTKD_WASM_THREADS).toBe('auto');
    const unset: NodeJS.ProcessEnv = {};
    shareCoresAmongJobs(1, unset);
    expect(unset.PROMPTKD_WASM_THREADS).toBe('auto');
    if (cores >= 2) {
      const two: NodeJS.ProcessEnv = { PROMPTKD_WASM_THREADS: 'auto' };
      shareCoresAmongJobs(2, two);
      expect(two.PROMPTKD_WASM_THREADS).toBe(String(Math.floor(cores / 2)));
    }
    const one: NodeJS.ProcessEnv = { PROMPTKD_WASM_THREADS: '1' };
    shareCoresAmongJobs(1, one);
    expect(one.PROMPTKD_WASM_THREADS).toBe('1');
  });

  it('keeps a value the user set', () => {
    const env: NodeJS.ProcessEnv = { PROMPTKD_NATIVE_THREADS: '3' };
    expect(shareCoresAmongJobs(8, env)).toBe(3);
    expect(env.PROMPTKD_NATIVE_THREADS).toBe('3');
  });
});
