import { describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import { pairedDifference, pairedInterval, pairedSeedsNeeded, tCritical95 } from '../src/index.js';

describe('paired statistics', () => {
  it('t critical values: the textbook table, and towards 1.96 for large df', () => {
    expect(tCritical95(1)).toBe(12.706);
    expect(tCritical95(4)).toBe(2.776);
    expect(tCritical95(19)).toBe(2.093);
    expect(tCritical95(40)).toBeCloseTo(2.021, 2); // tables: 2.021
    expect(tCritical95(60)).toBeCloseTo(2.0, 2); // 2.000
    expect(tCritical95(120)).toBeCloseTo(1.98, 2); // 1.980
    expect(() => tCritical95(0)).toThrow(ConfigError);
  });

  it('95% interval of a paired difference (hand-derived)', () => {
    // diffs 1, 2, 3, 4, 5: mean 3, std √2.5 = 1.5811, SE 0.7071, t(4) = 2.776 → ± 1.963
    const d = pairedDifference([11, 12, 13, 14, 15], [10, 10, 10, 10, 10]);
    const ci = pairedInterval(d);
    expect(ci.mean).toBe(3);
    expect(ci.se).toBeCloseTo(0.70711, 5);
    expect(ci.lo).toBeCloseTo(3 - 2.776 * 0.70711, 4);
    expect(ci.hi).toBeCloseTo(3 + 2.776 * 0.70711, 4);
    expect(ci.resolved).toBe(true);
    // diffs −2, 2, −1, 1: mean 0 → not resolved
    expect(pairedInterval(pairedDifference([8, 12, 9, 11], [10, 10, 10, 10])).resolved).toBe(false);
    expect(() => pairedInterval(pairedDifference([1], [0]))).toThrow(/at least 2/);
  });

  it('seeds needed for 80% power at α = 0.05: ⌈7.85·(std/effect)²⌉', () => {
    expect(pairedSeedsNeeded(4, 2)).toBe(32); // 7.849 · 4 = 31.4
    expect(pairedSeedsNeeded(1, 1)).toBe(8);
    expect(pairedSeedsNeeded(1, -1)).toBe(8);
    expect(pairedSeedsNeeded(0.1, 5)).toBe(2);
    expect(pairedSeedsNeeded(4, 2, { power: 0.9 })).toBe(43); // (1.96 + 1.2816)² · 4 = 42.0
    expect(() => pairedSeedsNeeded(1, 0)).toThrow(ConfigError);
  });
});
