import { describe, expect, it } from 'vitest';
import { checkKiopClaims, type KiopClaimCell } from '../src/kiop-claims.js';

const cell = (variant: string, seed: number, accB: number, accA: number, pair = 'mnist__fashionMnist', clean = 0.98): KiopClaimCell => ({
  pair, variant, seed, results: { final: { accA, accB }, host: { cleanAccuracy: clean } },
});

/** One seed of a pair: Vanilla-KD, KiOP-B, KiOP-BF and the real-data reference. */
const seedCells = (seed: number, b: number, bf: number, ref: number, accA = 0.96, vanillaA = 0.1) => [
  cell('vanillaKd', seed, 0.6, vanillaA),
  cell('kiopB', seed, b, accA),
  cell('kiopBF', seed, bf, accA),
  cell('realDataRef', seed, ref, accA),
];

const verdicts = (cells: KiopClaimCell[], k3MinAccB = 0.2) =>
  checkKiopClaims(cells, { k3MinAccB }).map((c) => `${c.claim} s${c.seed} ${c.holds}`);

describe('checkKiopClaims', () => {
  it('holds each claim exactly at its threshold and fails just past it', () => {
    // K1: 0.98 − 0.15 = 0.83 is the floor; Vanilla-KD ≤ 0.49. K2: gap 0.10. K3: ≥ 0.2 and ≥ ref − 0.1 = 0.2.
    expect(verdicts(seedCells(0, 0.3, 0.2, 0.3, 0.83, 0.49))).toEqual(['K1 s0 true', 'K2 s0 true', 'K3 s0 true']);
    expect(verdicts(seedCells(0, 0.3, 0.199, 0.3, 0.829, 0.49))).toEqual(['K1 s0 false', 'K2 s0 false', 'K3 s0 false']);
    expect(verdicts(seedCells(0, 0.3, 0.25, 0.3, 0.9, 0.491))[0]).toBe('K1 s0 false');
  });

  it('asks K3 for the real-data reference minus 10 points when that is above the floor', () => {
    expect(verdicts(seedCells(0, 0.25, 0.25, 0.36))[2]).toBe('K3 s0 false');
    expect(verdicts(seedCells(0, 0.25, 0.25, 0.34))[2]).toBe('K3 s0 true');
    // without the reference only the floor counts
    const noRef = seedCells(0, 0.25, 0.25, 0.9).filter((c) => c.variant !== 'realDataRef');
    expect(verdicts(noRef)[2]).toBe('K3 s0 true');
    expect(verdicts(noRef, 0.3)[2]).toBe('K3 s0 false');
  });

  it('checks every seed and the means over seeds, pair by pair, and says what a claim lacks', () => {
    const cells = [...seedCells(0, 0.1, 0.1, 0.2), ...seedCells(1, 0.3, 0.3, 0.3), cell('kiopB', 0, 0.5, 0.9, 'fashionMnist__mnist', 0.9)];
    const checks = checkKiopClaims(cells, { k3MinAccB: 0.2 });
    expect(checks.filter((c) => c.claim === 'K3').map((c) => `${c.pair} ${c.seed} ${c.holds}`)).toEqual([
      'mnist__fashionMnist 0 false',
      'mnist__fashionMnist 1 true',
      'mnist__fashionMnist mean true', // mean Acc.B 0.2 for both methods, reference mean 0.25
      'fashionMnist__mnist 0 undefined',
    ]);
    const k1Missing = checks.find((c) => c.pair === 'fashionMnist__mnist' && c.claim === 'K1');
    expect(k1Missing?.detail).toBe('needs kiopBF, vanillaKd');
    expect(checks.find((c) => c.seed === 'mean' && c.claim === 'K2')?.detail).toBe('|20.0 − 20.0| = 0.0 ≤ 10.0');
  });
});
