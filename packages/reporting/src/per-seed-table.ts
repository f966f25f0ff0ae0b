import type { SeedGrid } from './seed-grid.js';
import { formatMeanStd, type Table } from './tables.js';

/** Options of {@link perSeedTable}. */
export interface PerSeedTableOptions {
  readonly title: string;
  /** The metrics printed per seed as `a / b`; the last column summarises the first one. */
  readonly metrics: readonly { readonly label: string; readonly values: SeedGrid }[];
  /** Groups, in order (default: the first metric's groups). */
  readonly groups?: readonly string[];
  /** Orders a group's rows (e.g. a registry's `ordered`); default: as they come. */
  readonly order?: (rows: Iterable<string>) => string[];
  readonly rowLabel?: (row: string) => string;
  readonly groupLabel?: (group: string) => string;
  /** Headers of the group and row columns. Default `group`, `method`. */
  readonly groupHeader?: string;
  readonly rowHeader?: string;
  /** Multiplies values before printing (100 for accuracies in [0, 1]). Default 1. */
  readonly scale?: number;
  /** Decimals of the per-seed values (default 1) and of the mean ± std (default 2). */
  readonly digits?: number;
  readonly meanDigits?: number;
}

/**
 * The raw numbers behind mean ± std, for transparency: one row per group and row, one column per seed (every seed
 * of the first metric) with the metrics' values `a / b`, and the first metric's mean ± sample std.
 *
 * @example
 * ```ts
 * perSeedTable({ title: 'Per seed', metrics: [{ label: 'Acc', values: acc }, { label: 'Fgt', values: fgt }], scale: 100 });
 * // | group | method | seed 0 Acc / Fgt | seed 1 Acc / Fgt | Acc mean ± std |
 * ```
 */
export function perSeedTable(options: PerSeedTableOptions): Table {
  const { metrics } = options;
  const first = metrics[0]?.values ?? new Map();
  const scale = options.scale ?? 1;
  const digits = options.digits ?? 1;
  const label = options.rowLabel ?? ((r: string) => r);
  const groupLabel = options.groupLabel ?? ((g: string) => g);
  const order = options.order ?? ((rows: Iterable<string>) => [...rows]);
  const groups = options.groups ?? [...first.keys()];
  const seeds = [...new Set([...first.values()].flatMap((byRow) => [...byRow.values()].flatMap((bySeed) => [...bySeed.keys()])))].sort((a, b) => a - b);
  const rows = groups.flatMap((group) =>
    order(first.get(group)?.keys() ?? []).map((row) => ({
      group: groupLabel(group),
      method: label(row),
      ...Object.fromEntries(
        seeds.map((s) => {
          const [a, ...rest] = metrics.map((m) => m.values.get(group)?.get(row)?.get(s));
          const text = [a, ...rest].map((v) => (scale * (v ?? Number.NaN)).toFixed(digits)).join(' / ');
          return [`s${s}`, a === undefined ? '' : text];
        }),
      ),
      mean: formatMeanStd([...(first.get(group)?.get(row)?.values() ?? [])].map((v) => scale * v), { digits: options.meanDigits ?? 2 }),
    })),
  );
  const names = metrics.map((m) => m.label).join(' / ');
  return {
    title: options.title,
    columns: [
      { key: 'group', header: options.groupHeader ?? 'group' },
      { key: 'method', header: options.rowHeader ?? 'method' },
      ...seeds.map((s) => ({ key: `s${s}`, header: `seed ${s} ${names}`, align: 'right' as const })),
      { key: 'mean', header: `${metrics[0]?.label ?? ''} mean ± std`, align: 'right' },
    ],
    rows,
  };
}
