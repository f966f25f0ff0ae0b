import { pairedOnCommonSeeds } from './paired-on-common-seeds.js';
import type { SeedGrid } from './seed-grid.js';
import { formatPairedDifference, type Table, type TableColumn } from './tables.js';

/** A metric of {@link pairedDifferencesTable}: one column per group, headed `<group label> <header>`. */
export interface PairedMetric {
  /** Column key suffix (`<group>.<key>`). */
  readonly key: string;
  /** Header after the group's label, e.g. `ΔAcc (pts)`. */
  readonly header: string;
  readonly values: SeedGrid;
}

/** Options of {@link pairedDifferencesTable}. */
export interface PairedDifferencesTableOptions {
  readonly title: string;
  readonly metrics: readonly PairedMetric[];
  /** One row per pair `[a, b]`: the difference a − b. Pairs with no value anywhere are left out. */
  readonly comparisons: readonly (readonly [string, string])[];
  /** Column groups, in order (default: the first metric's groups). */
  readonly groups?: readonly string[];
  readonly rowLabel?: (row: string) => string;
  readonly groupLabel?: (group: string) => string;
  /** Multiplies values before printing (100 for accuracies in [0, 1]). Default 1. */
  readonly scale?: number;
  /** Decimals. Default 2. */
  readonly digits?: number;
  /** The unit of the printed differences, named in the legend (e.g. `percentage points`). */
  readonly unit?: string;
  /** Header of the first column. Default `paired by seed`. */
  readonly header?: string;
  /** Lines after the legend. */
  readonly notes?: readonly string[];
}

/**
 * A table of differences paired by seed (same seed ⇒ same initialisation and batch order): per comparison a − b
 * and per group and metric `mean ± std of the per-seed differences`, over the seeds both sides have
 * ({@link pairedOnCommonSeeds}), with `*` where |mean| > std (the difference exceeds the seed spread), `†` where
 * |mean| > 2·SE (rough 95 %; for n > 4 `*` implies `†`, not conversely) and `(n=…)`.
 *
 * @example
 * ```ts
 * pairedDifferencesTable({ title: 'Paired', metrics: [{ key: 'acc', header: 'ΔAcc', values: acc }], comparisons: [['kdp', 'none']], scale: 100 });
 * // | paired by seed | coda ΔAcc |   →   | kdp − none | +5.00 ± 0.35 *† (n=5) |
 * ```
 */
export function pairedDifferencesTable(options: PairedDifferencesTableOptions): Table {
  const { metrics } = options;
  const groups = options.groups ?? [...(metrics[0]?.values.keys() ?? [])];
  const label = options.rowLabel ?? ((r: string) => r);
  const groupLabel = options.groupLabel ?? ((g: string) => g);
  const cell = (grid: SeedGrid, group: string, a: string, b: string): string | undefined => {
    const x = grid.get(group)?.get(a);
    const y = grid.get(group)?.get(b);
    if (!x || !y) return undefined;
    const d = pairedOnCommonSeeds(x, y);
    if (d.n === 0) return undefined;
    const mark = `${d.exceedsSpread ? '*' : ''}${d.exceedsTwoSe ? '†' : ''}`;
    return `${formatPairedDifference(d, { scale: options.scale ?? 1, digits: options.digits ?? 2 })}${mark ? ` ${mark}` : ''} (n=${d.n})`;
  };
  const keys = groups.flatMap((g) => metrics.map((m) => [`${g}.${m.key}`, g, m] as const));
  const rows = options.comparisons
    .map(([a, b]) => ({ comparison: `${label(a)} − ${label(b)}`, ...Object.fromEntries(keys.map(([key, g, m]) => [key, cell(m.values, g, a, b)])) }))
    .filter((r) => keys.some(([key]) => (r as Record<string, unknown>)[key] !== undefined));
  const columns: TableColumn[] = [
    { key: 'comparison', header: options.header ?? 'paired by seed' },
    ...keys.map(([key, g, m]) => ({ key, header: `${groupLabel(g)} ${m.header}`, align: 'right' as const })),
  ];
  return {
    title: options.title,
    columns,
    rows,
    notes: [
      `mean ± std of the per-seed differences a − b${options.unit ? ` (${options.unit})` : ''}. * = |mean| > std of the differences (exceeds the seed spread); † = |mean| > 2·std/√n (rough 95% paired criterion; weaker than * for n > 4).`,
      ...(options.notes ?? []),
    ],
  };
}
