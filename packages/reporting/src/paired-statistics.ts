import { ConfigError } from '@promptkd/core';
import type { PairedDifference } from './tables.js';

/**
 * Two-sided 95 % critical values of Student's t for df = 1..30 (t_{0.975, df}); beyond 30 the table's last
 * entries are interpolated in 1/df towards the normal 1.960.
 */
const T975 = [
  12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.16, 2.145, 2.131, 2.12, 2.11, 2.101, 2.093, 2.086,
  2.08, 2.074, 2.069, 2.064, 2.06, 2.056, 2.052, 2.048, 2.045, 2.042,
];

/** t_{0.975, df}: the two-sided 95 % critical value of Student's t with `df` degrees of freedom. */
export function tCritical95(df: number): number {
  if (!Number.isInteger(df) || df < 1) throw new ConfigError(`Degrees of freedom must be a positive integer, got ${df}.`, { field: 'df' });
  if (df <= T975.length) return T975[df - 1] as number;
  // t_{0.975,df} ≈ 1.960 + c/df for large df; c from df = 30.
  return 1.96 + ((T975[29] as number) - 1.96) * (30 / df);
}

/** A paired comparison with its 95 % confidence interval (paired t, df = n − 1). */
export interface PairedInterval {
  readonly mean: number;
  /** Standard error of the mean difference. */
  readonly se: number;
  readonly lo: number;
  readonly hi: number;
  readonly n: number;
  /** The interval excludes 0: the sign of the difference is resolved at 95 % (two-sided paired t-test). */
  readonly resolved: boolean;
}

/** 95 % confidence interval of a paired mean difference: mean ± t_{0.975, n−1}·SE. Needs n ≥ 2. */
export function pairedInterval(d: PairedDifference): PairedInterval {
  if (d.n < 2) throw new ConfigError(`A paired interval needs at least 2 seeds, got ${d.n}.`, { field: 'seeds' });
  const half = tCritical95(d.n - 1) * d.se;
  const lo = d.mean - half;
  const hi = d.mean + half;
  return { mean: d.mean, se: d.se, lo, hi, n: d.n, resolved: lo > 0 || hi < 0 };
}

/**
 * Paired seeds needed to resolve a mean difference `effect` at two-sided level α with the given power, when the
 * per-seed differences have standard deviation `std`: n = ⌈((z_{1−α/2} + z_{power}) · std / effect)²⌉ (normal
 * approximation; α = 0.05 and power 0.8 give (1.960 + 0.842)² ≈ 7.85·(std/effect)²). At least 2.
 */
export function pairedSeedsNeeded(std: number, effect: number, options: { power?: 0.8 | 0.9 } = {}): number {
  if (!(std >= 0) || !Number.isFinite(std)) throw new ConfigError(`std must be a finite number ≥ 0, got ${std}.`, { field: 'std' });
  if (!Number.isFinite(effect) || effect === 0) throw new ConfigError(`The effect to resolve must be a non-zero number, got ${effect}.`, { field: 'effect' });
  const zPower = (options.power ?? 0.8) === 0.9 ? 1.2816 : 0.8416;
  return Math.max(2, Math.ceil(((1.96 + zPower) * std / Math.abs(effect)) ** 2));
}
