import { describe, expect, it } from 'vitest';
import { ompWaitPolicyFor } from '@promptkd/native-kernels';

describe('ompWaitPolicyFor (the OpenMP wait policy set before the native addon loads)', () => {
  it('lets the OpenMP workers spin briefly (libgomp default) when oneDNN or the built-in engine runs every parallel call', () => {
    expect(ompWaitPolicyFor('onednn')).toBeUndefined();
    expect(ompWaitPolicyFor('builtin')).toBeUndefined();
  });

  it('puts them to sleep at once beside OpenBLAS threads, and for an engine it cannot tell', () => {
    expect(ompWaitPolicyFor('openblas')).toBe('PASSIVE');
    expect(ompWaitPolicyFor(undefined)).toBe('PASSIVE');
    expect(ompWaitPolicyFor('mkl')).toBe('PASSIVE');
  });
});
