/**
 * @promptkd/reporting — turning finished runs into what a paper shows: markdown/CSV tables, seed statistics
 * (mean ± std, paired differences, paired 95 % intervals, seeds needed) and line charts as SVG/PNG. It writes into
 * `@promptkd/experiments` run folders (atomically), and is the only promptkd package that needs Vega and resvg.
 */
export {
  writeTable,
  renderMarkdown,
  renderCsv,
  slugify,
  meanStd,
  formatMeanStd,
  pairedDifference,
  formatPairedDifference,
} from './tables.js';
export type { Cell, Table, TableColumn, MeanStd, BySeed, PairedDifference } from './tables.js';
export { writeTableSet } from './write-table-set.js';
export type { NamedTable } from './write-table-set.js';
export { tCritical95, pairedInterval, pairedSeedsNeeded } from './paired-statistics.js';
export type { PairedInterval } from './paired-statistics.js';
export type { SeedGrid, SeedValues } from './seed-grid.js';
export { pairedOnCommonSeeds } from './paired-on-common-seeds.js';
export { pairedDifferencesTable } from './paired-differences-table.js';
export type { PairedDifferencesTableOptions, PairedMetric } from './paired-differences-table.js';
export { judgeClaim, seedsToResolve, formatSeedsToResolve } from './claim-verdict.js';
export type { Claim, ClaimVerdict } from './claim-verdict.js';
export { claimsTable } from './claims-table.js';
export type { ClaimsTableOptions } from './claims-table.js';
export { meanStdTable } from './mean-std-table.js';
export type { MeanStdTableOptions, MeanStdMetric } from './mean-std-table.js';
export { perSeedTable } from './per-seed-table.js';
export type { PerSeedTableOptions } from './per-seed-table.js';
export { lineChartSvg, lineChartVegaLite, vegaLiteToSvg, svgToPng, encodePng, writeFigure, writeLineChart } from './plots.js';
export type { Series, LineChartSpec } from './plots.js';
export { seedBandSeries } from './seed-band-series.js';
export { seedBandChart } from './seed-band-chart.js';
export type { SeedBandChartOptions } from './seed-band-chart.js';
export { formatPercent } from './format-percent.js';
export { epochSeries } from './epoch-series.js';
export type { EpochMetrics } from './epoch-series.js';
