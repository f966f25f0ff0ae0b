import type { Series } from './plots.js';
import { meanStd } from './tables.js';

/**
 * A curve averaged over seeds as a chart series: per step the mean over the seeds' curves (those long enough), and a
 * band of ± one sample std (zero with one seed). Step i is drawn at x = `firstX` + i (default 1).
 *
 * @example
 * ```ts
 * const s = seedBandSeries('KDP (n=5)', curvesBySeed, { scale: 100 }); // accuracy after each task, in %
 * await writeLineChart(root, 'acc-per-task', { title: 'Accuracy', xLabel: 'task', yLabel: '%', series: [s] });
 * ```
 */
export function seedBandSeries(name: string, curves: readonly (readonly number[])[], options: { readonly scale?: number; readonly firstX?: number } = {}): Series {
  const k = options.scale ?? 1;
  const x0 = options.firstX ?? 1;
  const steps = Math.max(0, ...curves.map((c) => c.length));
  const at = Array.from({ length: steps }, (_, t) => meanStd(curves.map((c) => c[t] as number).filter((v) => v !== undefined)));
  return {
    name,
    points: at.map(({ mean }, t) => [t + x0, k * mean] as const),
    band: at.map(({ mean, std }, t) => {
      const sd = Number.isFinite(std) ? std : 0;
      return [t + x0, k * (mean - sd), k * (mean + sd)] as const;
    }),
  };
}
