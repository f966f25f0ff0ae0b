import type { LineChartSpec } from './plots.js';
import { seedBandSeries } from './seed-band-series.js';

/** Options of {@link seedBandChart}. */
export interface SeedBandChartOptions {
  readonly title: string;
  readonly xLabel: string;
  readonly yLabel: string;
  /** Per row (e.g. a method), one curve per seed. */
  readonly curves: ReadonlyMap<string, readonly (readonly number[])[]>;
  /** Orders the rows (e.g. a registry's `ordered`); default: as they come. */
  readonly order?: (rows: Iterable<string>) => string[];
  readonly rowLabel?: (row: string) => string;
  /** Multiplies values (100 for accuracies in [0, 1]). Default 1. */
  readonly scale?: number;
  readonly yDomain?: readonly [number, number];
}

/**
 * A line chart of curves averaged over seeds: one series per row, `<label> (n=<seeds>)`, its mean per step with a
 * ± std band ({@link seedBandSeries}), steps drawn from x = 1 — e.g. the accuracy on the seen classes after each task
 * of a continual-learning grid. Write it with {@link writeLineChart}.
 *
 * @example
 * ```ts
 * const chart = seedBandChart({ title: 'CODA-P', xLabel: 'task', yLabel: 'accuracy (%)', curves, scale: 100, yDomain: [0, 100] });
 * await writeLineChart(root, 'acc-per-task', chart, { png: true });
 * ```
 */
export function seedBandChart(options: SeedBandChartOptions): LineChartSpec {
  const { curves } = options;
  const label = options.rowLabel ?? ((r: string) => r);
  const rows = (options.order ?? ((r: Iterable<string>) => [...r]))(curves.keys());
  return {
    title: options.title,
    xLabel: options.xLabel,
    yLabel: options.yLabel,
    series: rows.map((row) => {
      const list = curves.get(row) ?? [];
      return seedBandSeries(`${label(row)} (n=${list.length})`, list, { scale: options.scale ?? 1 });
    }),
    ...(options.yDomain ? { yDomain: options.yDomain } : {}),
  };
}
