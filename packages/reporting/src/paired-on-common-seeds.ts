import type { SeedValues } from './seed-grid.js';
import { pairedDifference, type PairedDifference } from './tables.js';

/**
 * {@link pairedDifference} `a − b` over the seeds both sides have (in seed order), ignoring seeds only one side has
 * — for grids with unfinished or failed runs. `n` is 0 when they share no seed.
 *
 * @example
 * ```ts
 * pairedOnCommonSeeds(new Map([[0, 0.8], [1, 0.7], [2, 0.9]]), new Map([[0, 0.6], [1, 0.6]])); // n = 2, mean 0.15
 * ```
 */
export function pairedOnCommonSeeds(a: SeedValues, b: SeedValues): PairedDifference {
  const common = [...a.keys()].filter((s) => b.has(s)).sort((x, y) => x - y);
  const pick = (m: SeedValues) => Object.fromEntries(common.map((s) => [String(s), m.get(s) as number]));
  return pairedDifference(pick(a), pick(b));
}
