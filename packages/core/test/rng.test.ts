import { describe, expect, it } from 'vitest';
import { ConfigError, Rng, assertFinite, NonFiniteError } from '@promptkd/core';

describe('Rng', () => {
  it('is deterministic per seed and differs across seeds', () => {
    const a = Rng.fromSeed(7);
    const b = Rng.fromSeed(7);
    const c = Rng.fromSeed(8);
    const sa = Array.from({ length: 5 }, () => a.random());
    expect(Array.from({ length: 5 }, () => b.random())).toEqual(sa);
    expect(Array.from({ length: 5 }, () => c.random())).not.toEqual(sa);
    for (const v of sa) expect(v >= 0 && v < 1).toBe(true);
  });

  it('gives well-spread first draws for small consecutive seeds', () => {
    const first = Array.from({ length: 20 }, (_, s) => Rng.fromSeed(s).random());
    const mean = first.reduce((a, b) => a + b, 0) / first.length;
    expect(mean).toBeGreaterThan(0.25);
    expect(mean).toBeLessThan(0.75);
    expect(new Set(first.map((v) => v.toFixed(2))).size).toBeGreaterThan(10);
  });

  it('resumes from a saved state', () => {
    const a = Rng.fromSeed(1);
    a.random();
    const state = JSON.parse(JSON.stringify(a.getState()));
    const next = [a.int(0, 100), a.random()];
    const b = Rng.fromState(state);
    expect([b.int(0, 100), b.random()]).toEqual(next);
  });

  it('resumes mid-way through normal() pairs', () => {
    const a = Rng.fromSeed(9);
    a.normal(); // leaves the second Box–Muller sample cached
    const b = Rng.fromState(JSON.parse(JSON.stringify(a.getState())));
    expect([b.normal(), b.normal(), b.random()]).toEqual([a.normal(), a.normal(), a.random()]);
  });

  it('makes permutations', () => {
    const p = Rng.fromSeed(3).permutation(10);
    expect([...p].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('draws normals with mean ~0 and std ~1', () => {
    const r = Rng.fromSeed(5);
    const xs = Array.from({ length: 20000 }, () => r.normal());
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
    expect(Math.abs(mean)).toBeLessThan(0.03);
    expect(Math.abs(sd - 1)).toBeLessThan(0.03);
  });

  it('rejects non-integer seeds', () => {
    expect(() => Rng.fromSeed(1.5)).toThrow(ConfigError);
  });
});

describe('assertFinite', () => {
  it('names step and term', () => {
    expect(() => assertFinite(Number.NaN, { step: 12, term: 'kl' })).toThrow(NonFiniteError);
    expect(() => assertFinite(Number.NaN, { step: 12, term: 'kl' })).toThrow(/term 'kl' at step 12/);
    expect(() => assertFinite(1.5)).not.toThrow();
  });
});
