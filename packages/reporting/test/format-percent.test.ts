import { describe, expect, it } from 'vitest';
import { formatPercent } from '@promptkd/reporting';

describe('formatPercent', () => {
  it('writes a fraction as a percentage with two decimals, and a missing or NaN value as an empty cell', () => {
    expect(formatPercent(0.2)).toBe('20.00');
    expect(formatPercent(0.12345)).toBe('12.35');
    expect(formatPercent(1)).toBe('100.00');
    expect(formatPercent(0.5, 1)).toBe('50.0');
    expect(formatPercent(undefined)).toBe('');
    expect(formatPercent(null)).toBe('');
    expect(formatPercent(Number.NaN)).toBe('');
  });
});
