import type { SeedGrid } from './seed-grid.js';
import { formatMeanStd, type Table, type TableColumn } from './tables.js';

/** A metric of {@link meanStdTable}: one column per group, headed `<group label> <header>`. */
export interface MeanStdMetric {
  /** Column key suffix (`<group>.<key>`). */
  readonly key: string;
  /** Header after the group's label, e.g. `Acc (%)`. */
  readonly header: string;
  readonly values: SeedGrid;
}

/** Options of {@link meanStdTable}. */
export interface MeanStdTableOptions {
  readonly title: string;
  readonly metrics: readonly MeanStdMetric[];
  /** Column groups, in order (default: the first metric's groups). */
  readonly groups?: readonly string[];
  /** Orders the rows (every row of the first metric in any group); default: as they come. */
  readonly order?: (rows: Iterable<string>) => string[];
  readonly rowLabel?: (row: string) => string;
  readonly groupLabel?: (group: string) => string;
  /** Header of the row column. Default `method`. */
  readonly header?: string;
  /** Multiplies values before printing (100 for accuracies in [0, 1]). Default 1. */
  readonly scale?: number;
  /** Decimals. Default 2. */
  readonly digits?: number;
  readonly notes?: readonly string[];
}

/**
 * The usual results table of a seeded benchmark: one row per method, per group (e.g. a dataset or CL method) and
 * metric a `mean ± std` over seeds (sample std), `(n=…)` after a cell with fewer seeds than the table's fullest
 * cell, and a `seeds` column (the row's distinct seeds).
 *
 * @example
 * ```ts
 * meanStdTable({ title: 'Acc / Fgt', scale: 100, metrics: [{ key: 'acc', header: 'Acc (%)', values: acc }, { key: 'fgt', header: 'Fgt (%)', values: fgt }] });
 * // | method | coda Acc (%) | coda Fgt (%) | seeds |   →   | kdp | 67.00 ± 1.58 | 18.00 ± 1.58 | 5 |
 * ```
 */
export function meanStdTable(options: MeanStdTableOptions): Table {
  const { metrics } = options;
  const first = metrics[0]?.values ?? new Map();
  const groups = options.groups ?? [...first.keys()];
  const label = options.rowLabel ?? ((r: string) => r);
  const groupLabel = options.groupLabel ?? ((g: string) => g);
  const order = options.order ?? ((rows: Iterable<string>) => [...rows]);
  const rows = order(new Set(groups.flatMap((g) => [...(first.get(g)?.keys() ?? [])])));
  const most = Math.max(0, ...metrics.flatMap((m) => [...m.values.values()].flatMap((byRow) => [...byRow.values()].map((s) => s.size))));
  const cell = (s: ReadonlyMap<number, number> | undefined) =>
    s && s.size ? `${formatMeanStd([...s.values()], { scale: options.scale ?? 1, digits: options.digits ?? 2 })}${s.size < most ? ` (n=${s.size})` : ''}` : '';
  const keys = groups.flatMap((g) => metrics.map((m) => [`${g}.${m.key}`, g, m] as const));
  const columns: TableColumn[] = [
    { key: 'method', header: options.header ?? 'method' },
    ...keys.map(([key, g, m]) => ({ key, header: `${groupLabel(g)} ${m.header}`, align: 'right' as const })),
    { key: 'seeds', header: 'seeds', align: 'right' },
  ];
  return {
    title: options.title,
    columns,
    rows: rows.map((row) => ({
      method: label(row),
      ...Object.fromEntries(keys.map(([key, g, m]) => [key, cell(m.values.get(g)?.get(row))])),
      seeds: new Set(groups.flatMap((g) => [...(first.get(g)?.get(row)?.keys() ?? [])])).size,
    })),
    ...(options.notes ? { notes: options.notes } : {}),
  };
}
