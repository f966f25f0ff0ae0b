import { formatSeedsToResolve, judgeClaim, type Claim } from './claim-verdict.js';
import { pairedOnCommonSeeds } from './paired-on-common-seeds.js';
import type { SeedGrid } from './seed-grid.js';
import type { Table } from './tables.js';

/** Options of {@link claimsTable}. */
export interface ClaimsTableOptions {
  readonly title: string;
  readonly claims: readonly Claim[];
  /** The metrics the claims compare, by key: a short label (`Acc`) and the values by seed. */
  readonly metrics: Readonly<Record<string, { readonly label: string; readonly values: SeedGrid }>>;
  /** Groups, in order (default: the groups of the first claim's metric). */
  readonly groups?: readonly string[];
  readonly rowLabel?: (row: string) => string;
  readonly groupLabel?: (group: string) => string;
  /** Header of the group column. Default `group`. */
  readonly groupHeader?: string;
  /** Multiplies differences before printing (100 for accuracies in [0, 1]); claim margins are in printed units. Default 1. */
  readonly scale?: number;
  /** Unit of the printed differences in headers, e.g. `pts`. */
  readonly unit?: string;
  /** Where the claims' margins come from, named in the legend (e.g. the paper's table). */
  readonly marginSource?: string;
}

/**
 * Checks published claims against a grid, one row per group and claim with at least 2 paired seeds: the paired
 * difference a − b with its standard error and 95 % interval (paired t), the verdict ({@link judgeClaim}), and the
 * paired seeds 80 % power would need to resolve the observed difference and the claimed margin at α = 0.05 (given
 * the observed spread of the differences).
 *
 * @example
 * ```ts
 * claimsTable({ title: 'Claims', scale: 100, unit: 'pts', claims: [{ id: 'C1', claim: 'A > B', metric: 'acc', a: 'A', b: 'B', sign: 1, margin: 0.8 }],
 *   metrics: { acc: { label: 'Acc', values: acc } } });
 * ```
 */
export function claimsTable(options: ClaimsTableOptions): Table {
  const { claims, metrics } = options;
  const scale = options.scale ?? 1;
  const u = options.unit ? ` (${options.unit})` : '';
  const label = options.rowLabel ?? ((r: string) => r);
  const groupLabel = options.groupLabel ?? ((g: string) => g);
  const groups = options.groups ?? [...(metrics[claims[0]?.metric ?? '']?.values.keys() ?? [])];
  const signed = (v: number) => `${v >= 0 ? '+' : ''}${v.toFixed(2)}`;
  const rows = groups.flatMap((group) =>
    claims.flatMap((c) => {
      const metric = metrics[c.metric];
      const x = metric?.values.get(group)?.get(c.a);
      const y = metric?.values.get(group)?.get(c.b);
      if (!metric || !x || !y) return [];
      const d = pairedOnCommonSeeds(x, y);
      if (d.n < 2) return [];
      const v = judgeClaim(d, { sign: c.sign, margin: c.margin / scale });
      return [
        {
          group: groupLabel(group),
          id: c.id,
          claim: c.claim,
          diff: `${label(c.a)} − ${label(c.b)} (${metric.label})`,
          mean: `${signed(scale * d.mean)} ± ${(scale * d.se).toFixed(2)}`,
          ci: `[${signed(scale * v.interval.lo)}, ${signed(scale * v.interval.hi)}]`,
          n: d.n,
          verdict: v.verdict,
          needObserved: formatSeedsToResolve(v.seedsForObserved),
          paper: signed(c.margin),
          needPaper: formatSeedsToResolve(v.seedsForMargin),
        },
      ];
    }),
  );
  return {
    title: options.title,
    columns: [
      { key: 'group', header: options.groupHeader ?? 'group' },
      { key: 'id', header: 'claim' },
      { key: 'claim', header: 'paper says' },
      { key: 'diff', header: 'paired a − b' },
      { key: 'mean', header: `mean ± SE${u}`, align: 'right' },
      { key: 'ci', header: `95% CI${u}`, align: 'right' },
      { key: 'n', header: 'seeds', align: 'right' },
      { key: 'verdict', header: 'verdict', align: 'right' },
      { key: 'needObserved', header: 'seeds to resolve this difference', align: 'right' },
      { key: 'paper', header: `paper margin${u}`, align: 'right' },
      { key: 'needPaper', header: 'seeds to resolve the paper margin', align: 'right' },
    ],
    rows,
    notes: [
      'Paired by seed (same initialisation and batch order). SE = std of the per-seed differences / √n; 95% CI = mean ± t(0.975, n−1)·SE (paired t-test). "holds": the interval excludes 0 in the paper\'s direction; "reversed": it excludes 0 in the other; "not resolved": it contains 0.',
      `Seeds to resolve: paired seeds for 80% power at α = 0.05 (two-sided), n = ⌈7.85·(std/effect)²⌉ with the observed std of the differences, for the observed mean difference and for the paper's margin${options.marginSource ? ` (${options.marginSource})` : ''}.`,
    ],
  };
}
