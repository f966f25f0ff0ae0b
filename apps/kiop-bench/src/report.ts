import { epochSeries, formatPercent as pct, renderMarkdown, writeLineChart, writeTable, type Table } from '@promptkd/reporting';
import { kiopVariantRegistry } from '@promptkd/kiop';
import type { KiopFoundCell } from '@promptkd/kiop/node';

export { collectKiopCells as collectCells } from '@promptkd/kiop/node';

/**
 * The paper's Table 1 layout: one row per (source dataset, method), columns Acc.B and Acc.A per host dataset
 * (final epoch, then the epoch with the best Acc.B as the reference code selects), plus the models' clean accuracy.
 */
export function kiopTable(cells: readonly KiopFoundCell[], title = 'KiOP results'): Table {
  const rows = cells.map((c) => ({
    source: c.results.sources.map((s) => s.dataset).join('+'),
    host: c.results.host.dataset,
    method: kiopVariantRegistry.label(c.variant),
    seed: c.seed,
    accB: pct(c.results.final.accB),
    accA: pct(c.results.final.accA),
    accC: pct(c.results.final.accC),
    bestEpoch: c.results.best.epoch,
    bestAccB: pct(c.results.best.metrics.accB),
    bestAccA: pct(c.results.best.metrics.accA),
    cleanB: pct(c.results.sources[0]?.cleanAccuracy),
    cleanA: pct(c.results.host.cleanAccuracy),
    ...finalDiagnostics(c),
    minutes: (c.results.seconds / 60).toFixed(1),
  }));
  const hasC = rows.some((r) => r.accC !== '');
  return {
    title,
    columns: [
      { key: 'source', header: 'Dts.B' },
      { key: 'host', header: 'Dts.A' },
      { key: 'method', header: 'method' },
      { key: 'seed', header: 'seed', align: 'right' },
      { key: 'accB', header: 'Acc.B %', align: 'right' },
      { key: 'accA', header: 'Acc.A %', align: 'right' },
      ...(hasC ? [{ key: 'accC', header: 'Acc.C %', align: 'right' as const }] : []),
      { key: 'bestAccB', header: 'best Acc.B %', align: 'right' },
      { key: 'bestAccA', header: 'Acc.A @best %', align: 'right' },
      { key: 'bestEpoch', header: 'best ep.', align: 'right' },
      { key: 'cleanB', header: 'source clean %', align: 'right' },
      { key: 'cleanA', header: 'host clean %', align: 'right' },
      { key: 'targetAgreement', header: 'synth. target agr. %', align: 'right' },
      { key: 'keptIteration', header: 'kept it.', align: 'right' },
      { key: 'bankPerClass', header: 'bank/class', align: 'right' },
      { key: 'bankAgreement', header: 'bank agr. %', align: 'right' },
      { key: 'untrainedAccB', header: 'untrained Acc.B %', align: 'right' },
      { key: 'predictedClasses', header: 'classes pred.', align: 'right' },
      { key: 'minutes', header: 'min', align: 'right' },
    ],
    rows,
    notes: [
      'Acc.B: SMB (host + PC + PP + label mapping) on the source test set; Vanilla-KD: the KD-trained host with a source head.',
      'Acc.A: SMA (host + PC) on the host test set; Vanilla-KD: the trained backbone with the original head restored.',
      'Final epoch, and the epoch with the highest Acc.B (the reference code reports that one).',
      'Diagnostics of the last epoch, source B\'s bank: synth. target agr. = how often the source\'s argmax equals the ' +
        'synthesis target on the kept batch; kept it. = the generator iteration kept; bank/class = fewest–most bank images ' +
        'of one class; bank agr. = how often the prompted host agrees with the source on the bank it trains on.',
      'untrained Acc.B = the prompt before its first step, with the label mapping it starts from (what the mapping alone gives); ' +
        'classes pred. = exp(entropy) of how often each source class is predicted on the source test set, final epoch ' +
        '(10 = every class equally often, 1 = one class for every image).',
      'real-data ref. (not KiOP): the same prompt and budget trained by KD on real source training images; it measures ' +
        'what the data-free synthesis costs and is not part of the paper\'s method.',
      ...dataNotes(cells),
    ],
  };
}

/** The last epoch's synthesis, bank and prediction diagnostics of source B and the untrained prompt's Acc.B (empty strings when absent). */
function finalDiagnostics(
  c: KiopFoundCell,
): Record<'targetAgreement' | 'keptIteration' | 'bankPerClass' | 'bankAgreement' | 'untrainedAccB' | 'predictedClasses', string> {
  const last = c.results.epochs[c.results.epochs.length - 1];
  const classes = c.results.final.predictedClassesB;
  const syn = last?.synthesis.B;
  const agreement = last?.diagnostics?.bankAgreementB;
  return {
    targetAgreement: pct(syn?.targetAgreement),
    keptIteration: syn?.iteration === undefined ? '' : String(syn.iteration),
    bankPerClass: syn?.bankMinPerClass === undefined ? '' : `${syn.bankMinPerClass}–${syn.bankMaxPerClass}`,
    bankAgreement: pct(agreement),
    untrainedAccB: pct(c.results.epochs[0]?.diagnostics?.['untrained.accB']),
    predictedClasses: classes === undefined ? '' : classes.toFixed(1),
  };
}

/** One note per dataset: where its images came from and the split rule, as recorded in results.json. */
function dataNotes(cells: readonly KiopFoundCell[]): string[] {
  const seen = new Map<string, string>();
  for (const c of cells) for (const p of [c.results.host, ...c.results.sources]) if (p.data) seen.set(p.dataset, p.data);
  return [...seen].map(([dataset, data]) => `Data, ${dataset}: ${data}.`);
}

/** Writes the table (markdown + CSV) and one training-curve figure (SVG + PNG) per pair into `root`. */
export async function writeReport(root: string, cells: readonly KiopFoundCell[], title?: string): Promise<{ markdown: string }> {
  const table = kiopTable(cells, title);
  writeTable(root, table, { name: 'kiop-results' });
  const markdown = renderMarkdown(table);
  const pairs = [...new Set(cells.map((c) => c.pair))];
  for (const pair of pairs) {
    const inPair = cells.filter((c) => c.pair === pair);
    const series = inPair.flatMap((c) => {
      const seed = inPair.some((o) => o.seed !== c.seed) ? ` s${c.seed}` : '';
      return [['accA', 'Acc.A'], ['accB', 'Acc.B']].map(([m, label]) => epochSeries(`${kiopVariantRegistry.label(c.variant)} ${label}${seed}`, c.results.epochs, m!));
    });
    await writeLineChart(root, `curves-${pair}`, { title: `KiOP training curves (${pair.replace('__', ' ← ')})`, xLabel: 'epoch', yLabel: 'accuracy (%)', series, yDomain: [0, 100] }, { png: true });
  }
  return { markdown };
}
