import type { Series } from './plots.js';

/** One epoch's record as runs write it to `results.json`: a 0-based epoch and its metrics. */
export interface EpochMetrics {
  readonly epoch: number;
  readonly metrics: Readonly<Record<string, number>>;
}

/**
 * A training curve of one metric for {@link writeLineChart}: x = the 1-based epoch, y = `scale` × the metric
 * (default 100: fractions as percent). Epochs without the metric give NaN points, which the chart drops.
 *
 * @example
 * epochSeries('KiOP-B Acc.B', results.epochs, 'accB'); // { name, points: [[1, 12.5], [2, 14.1], …] }
 */
export function epochSeries(name: string, epochs: readonly EpochMetrics[], metric: string, options: { scale?: number } = {}): Series {
  const scale = options.scale ?? 100;
  return { name, points: epochs.map((e) => [e.epoch + 1, scale * (e.metrics[metric] ?? Number.NaN)] as const) };
}
