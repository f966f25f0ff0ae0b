import { pairedInterval, pairedSeedsNeeded, type PairedInterval } from './paired-statistics.js';
import type { PairedDifference } from './tables.js';

/** A published claim as a paired comparison: a − b on `metric`, in the direction `sign`, by the paper's `margin`. */
export interface Claim {
  /** Short id, e.g. `D1a`. */
  readonly id: string;
  /** What the paper says, e.g. `KDP > DeiT token`. */
  readonly claim: string;
  /** The metric compared (a key of the claims table's `metrics`). */
  readonly metric: string;
  readonly a: string;
  readonly b: string;
  /** The direction the paper reports: 1 = a above b, −1 = a below b. */
  readonly sign: 1 | -1;
  /** The paper's difference a − b, in printed units (after the table's `scale`, e.g. points). */
  readonly margin: number;
}

/** How a paired comparison bears on a claim ({@link judgeClaim}). */
export interface ClaimVerdict {
  readonly interval: PairedInterval;
  /** `holds`: the 95 % interval excludes 0 in the claimed direction; `reversed`: in the other; `not resolved`: contains 0. */
  readonly verdict: 'holds' | 'reversed' | 'not resolved';
  /** Paired seeds to resolve the observed mean difference ({@link seedsToResolve}). */
  readonly seedsForObserved: number | undefined;
  /** Paired seeds to resolve the claimed margin at the observed spread (when a margin is given). */
  readonly seedsForMargin: number | undefined;
}

/**
 * Paired seeds for 80 % power at α = 0.05 (two-sided) to resolve `effect` when the per-seed differences spread by
 * `std` ({@link pairedSeedsNeeded}); `Infinity` for a zero effect, `undefined` when `std` is 0 (nothing to resolve).
 */
export function seedsToResolve(std: number, effect: number): number | undefined {
  if (std === 0) return undefined;
  if (Math.abs(effect) < 1e-12) return Number.POSITIVE_INFINITY;
  return pairedSeedsNeeded(std, effect);
}

/** {@link seedsToResolve} for a table: `—` (no spread), `∞`, `> 9999` or the number. */
export function formatSeedsToResolve(n: number | undefined): string {
  if (n === undefined) return '—';
  if (n === Number.POSITIVE_INFINITY) return '∞';
  return n > 9999 ? '> 9999' : String(n);
}

/**
 * Judges a claim by a paired-by-seed difference (n ≥ 2): its 95 % paired-t interval, whether it holds, is reversed
 * or is not resolved, and how many paired seeds would resolve the observed difference and the claimed `margin`
 * (in the difference's units) at the observed spread.
 *
 * @example
 * ```ts
 * const d = pairedOnCommonSeeds(kdpBySeed, deitBySeed);
 * judgeClaim(d, { sign: 1, margin: 0.0052 }).verdict; // 'holds' | 'reversed' | 'not resolved'
 * ```
 */
export function judgeClaim(d: PairedDifference, claim: { readonly sign: 1 | -1; readonly margin?: number }): ClaimVerdict {
  const interval = pairedInterval(d);
  const agrees = Math.sign(d.mean) === claim.sign;
  return {
    interval,
    verdict: interval.resolved ? (agrees ? 'holds' : 'reversed') : 'not resolved',
    seedsForObserved: seedsToResolve(d.std, d.mean),
    seedsForMargin: claim.margin === undefined ? undefined : seedsToResolve(d.std, claim.margin),
  };
}
