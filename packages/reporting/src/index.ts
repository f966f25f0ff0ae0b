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
export { tCritical95, pairedInterval, pairedSeedsNeeded } from './paired-statistics.js';
export type { PairedInterval } from './paired-statistics.js';
export { lineChartSvg, lineChartVegaLite, vegaLiteToSvg, svgToPng, encodePng, writeFigure, writeLineChart } from './plots.js';
export type { Series, LineChartSpec } from './plots.js';
