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
  });

  it('keeps a value the user set', () => {
    const env: NodeJS.ProcessEnv = { PROMPTKD_NATIVE_THREADS: '3' };
    expect(shareCoresAmongJobs(8, env)).toBe(3);
    expect(env.PROMPTKD_NATIVE_THREADS).toBe('3');
  });
});
