import { clMethodRegistry } from '@promptkd/continual';
import {
  claimsTable as seedClaimsTable,
  formatMeanStd,
  meanStdTable,
  pairedDifferencesTable,
  perSeedTable as seedsTable,
  seedBandChart,
  writeLineChart,
  writeTableSet,
  type Claim,
  type NamedTable,
  type Table,
} from '@promptkd/reporting';
import { cdlAccuracyCurves, cdlHeadSummary, cdlRowLabel as rowLabel, cdlSeedValues, collectCdlRuns, kdMethodRegistry, type FoundCdlRun } from '@promptkd/kdp/node';

const clLabel = (cl: string): string => clMethodRegistry.label(cl);
const grids = (cells: readonly FoundCdlRun[]) => ({ acc: cdlSeedValues(cells, 'finalAccuracy'), fgt: cdlSeedValues(cells, 'forgetting') });
const pct = (xs: readonly number[]) => formatMeanStd(xs, { scale: 100, digits: 2, empty: '' });

/**
 * The paper's layout for one dataset split: rows = KD methods (student alone first, KDP last) and the teacher
 * alone; per CL method two columns, Acc and Fgt (%), each `mean ± std` over seeds (`(n=…)` where a cell has fewer).
 */
export function accFgtTable(cells: readonly FoundCdlRun[], title: string): Table {
  const { acc, fgt } = grids(cells);
  return meanStdTable({
    title, groups: clMethodRegistry.ordered(acc.keys()), order: (r) => kdMethodRegistry.ordered(r), rowLabel, groupLabel: clLabel, header: 'KD method', scale: 100,
    metrics: [{ key: 'acc', header: 'Acc (%)', values: acc }, { key: 'fgt', header: 'Fgt (%)', values: fgt }],
    notes: [
      'Final average accuracy over all tasks after the last task (Acc) and forgetting as the reference code computes it (Fgt = 1/N·Σ_i a_ii − a_Ni), of the student; mean ± sample std over seeds.',
      '"teacher alone" is the teacher\'s own CL run (same CL method, larger backbone, no KD); it is the same run for every KD method of a seed.',
    ],
  });
}

/** Paired-by-seed differences: every KD method − student alone, KDP − DeiT token, DeiT − KD, teacher − student alone. */
export function pairedTable(cells: readonly FoundCdlRun[], title: string): Table {
  const { acc, fgt } = grids(cells);
  const comparisons = [...kdMethodRegistry.ordered().filter((k) => k !== 'none').map((k) => [k, 'none'] as const), ['kdp', 'deit'], ['deit', 'kd'], ['teacher', 'none']] as const;
  return pairedDifferencesTable({
    title, comparisons, groups: clMethodRegistry.ordered(acc.keys()), rowLabel, groupLabel: clLabel, scale: 100, unit: 'percentage points',
    metrics: [{ key: 'acc', header: 'ΔAcc (pts)', values: acc }, { key: 'fgt', header: 'ΔFgt (pts)', values: fgt }],
    notes: ['For Fgt a negative difference means less forgetting.'],
  });
}

/** Raw per-seed final accuracy / forgetting (%), for transparency. */
export function perSeedTable(cells: readonly FoundCdlRun[], title: string): Table {
  const { acc, fgt } = grids(cells);
  const metrics = [{ label: 'Acc', values: acc }, { label: 'Fgt', values: fgt }];
  return seedsTable({ title, metrics, groups: clMethodRegistry.ordered(acc.keys()), order: (r) => kdMethodRegistry.ordered(r), rowLabel, groupLabel: clLabel, groupHeader: 'CL', scale: 100 });
}

/** Heads g (class) and k (KD), the averaged prediction and the k − teacher just-learned gap (`cdlHeadSummary`), mean ± std over seeds (%). */
export function headsTable(cells: readonly FoundCdlRun[], title: string): Table {
  const rows = cdlHeadSummary(cells).map((h) => ({
    cl: clLabel(h.clMethod), method: rowLabel(h.row), acc: pct(h.accuracy), accG: pct(h.accuracyG), accK: pct(h.accuracyK), fgt: pct(h.forgetting),
    fgtG: pct(h.forgettingG), fgtK: pct(h.forgettingK),
    withinPred: pct(h.withinTask.prediction), withinG: pct(h.withinTask.g), withinK: pct(h.withinTask.k),
    kGap: h.kMinusTeacher.length ? `${pct(h.kMinusTeacher)} (n=${h.kMinusTeacher.length})` : '', seeds: h.seeds,
  }));
  const right = (key: string, header: string) => ({ key, header, align: 'right' as const });
  return {
    title,
    columns: [
      { key: 'cl', header: 'CL' }, { key: 'method', header: 'method' }, right('acc', 'Acc (%)'), right('accG', 'Acc g alone'), right('accK', 'Acc k alone'),
      right('fgt', 'Fgt (%)'), right('fgtG', 'Fgt g alone'), right('fgtK', 'Fgt k alone'), right('withinPred', 'just-learned, within task'), right('withinG', 'g just-learned'), right('withinK', 'k just-learned'),
      right('kGap', 'k − teacher just-learned (pts)'), right('seeds', 'seeds'),
    ],
    rows,
    notes: [
      'Acc: final average accuracy (seen classes) of the prediction; g alone / k alone: the same with the class head on [CLS] or the KD head on the KD token only (token methods; the prediction is (1−α)·g + α·k). Fgt g / k alone: the forgetting of each head\'s own accuracy matrix.',
      '"just-learned, within task": accuracy on each task\'s test set right after learning it, argmax over that task\'s classes only, averaged over tasks (what the task\'s CE or current-task KD can teach). k − teacher: paired by seed against the teacher\'s own within-task accuracy; within 2 points = the KD head has converged to the teacher.',
      'mean ± sample std over seeds (%).',
    ],
  };
}

/** D1a–D1c (accuracy ordering) and D2 (KDP forgets least), CIFAR-100 CODA-P B→S margins (points) from kdp-spec §6.1. */
export const KDP_CLAIMS: readonly Claim[] = [
  { id: 'D1a', claim: 'logit KD ≥ student alone', metric: 'acc', a: 'kd', b: 'none', sign: 1, margin: 83.03 - 82.18 },
  { id: 'D1b', claim: 'DeiT token > logit KD', metric: 'acc', a: 'deit', b: 'kd', sign: 1, margin: 83.79 - 83.03 },
  { id: 'D1c', claim: 'KDP > DeiT token', metric: 'acc', a: 'kdp', b: 'deit', sign: 1, margin: 84.31 - 83.79 },
  { id: 'D2', claim: 'KDP forgets less than DeiT token', metric: 'fgt', a: 'kdp', b: 'deit', sign: -1, margin: 5.63 - 6.58 },
  { id: 'D2', claim: 'KDP forgets less than logit KD', metric: 'fgt', a: 'kdp', b: 'kd', sign: -1, margin: 5.63 - 7.24 },
  { id: 'D2', claim: 'KDP forgets less than the student alone', metric: 'fgt', a: 'kdp', b: 'none', sign: -1, margin: 5.63 - 6.48 },
];

/** The paper's claims against the grid: paired mean ± SE, 95 % CI, verdict, seeds to resolve (`claimsTable`). */
export function claimsTable(cells: readonly FoundCdlRun[], title: string): Table {
  const { acc, fgt } = grids(cells);
  return seedClaimsTable({
    title, claims: KDP_CLAIMS, metrics: { acc: { label: 'Acc', values: acc }, fgt: { label: 'Fgt', values: fgt } }, groups: clMethodRegistry.ordered(acc.keys()),
    rowLabel, groupLabel: clLabel, groupHeader: 'CL', scale: 100, unit: 'pts', marginSource: 'CIFAR-100, CODA-P, ViT-B → ViT-S, kdp-spec §6.1',
  });
}

const groupsOf = (cells: readonly FoundCdlRun[]) => [...new Set(cells.map((c) => c.group))].sort();

/** Writes, per dataset split, the Acc/Fgt, paired, per-seed, heads and claims tables (markdown + CSV); returns them as markdown. */
export function writeTables(root: string, cells: readonly FoundCdlRun[]): { markdown: string } {
  const tables: NamedTable[] = groupsOf(cells).flatMap((group) => {
    const inGroup = cells.filter((c) => c.group === group);
    const r = inGroup[0]?.results;
    const label = r ? `${r.dataset} ${r.numTasks} tasks × ${r.classesPerTask} classes, D_T=${r.backbones.teacher.dim} → D_S=${r.backbones.student.dim}` : group;
    return [
      { table: accFgtTable(inGroup, `Acc / Fgt — ${label}`), name: `kdp-${group}` },
      { table: pairedTable(inGroup, `Paired differences — ${label}`), name: `kdp-${group}-paired` },
      { table: perSeedTable(inGroup, `Per seed (Acc / Fgt %) — ${label}`), name: `kdp-${group}-seeds` },
      { table: headsTable(inGroup, `Heads: class head g, KD head k, averaged prediction — ${label}`), name: `kdp-${group}-heads` },
      { table: claimsTable(inGroup, `The paper's claims — ${label}`), name: `kdp-${group}-claims` },
    ];
  });
  return writeTableSet(root, tables);
}

/**
 * Accuracy on the seen classes after each task (mean over seeds with a ± std band), one figure per split and CL method
 * (SVG + PNG); `methods` limits the KD methods drawn (the teacher is always drawn).
 */
export async function writePlots(root: string, cells: readonly FoundCdlRun[], options: { methods?: readonly string[] } = {}): Promise<string[]> {
  const written: string[] = [];
  for (const group of groupsOf(cells)) {
    const byCl = cdlAccuracyCurves(cells.filter((c) => c.group === group), options);
    for (const cl of clMethodRegistry.ordered(byCl.keys())) {
      const name = `acc-per-task-${group}-${cl}`;
      const title = `${clLabel(cl)}, ${group}: accuracy on seen classes after each task (mean, band ± std over seeds)`;
      const curves = byCl.get(cl) as Map<string, number[][]>;
      const chart = seedBandChart({ title, xLabel: 'task', yLabel: 'average accuracy (%)', curves, order: (r) => kdMethodRegistry.ordered(r), rowLabel, scale: 100, yDomain: [0, 100] });
      written.push((await writeLineChart(root, name, chart, { png: true })).svg);
    }
  }
  return written;
}

/** Writes the tables and figures of a grid root ({@link writeTables}, {@link writePlots}); returns the tables as markdown. */
export async function report(root: string): Promise<string> {
  const cells = collectCdlRuns(root);
  const { markdown } = writeTables(root, cells);
  await writePlots(root, cells);
  return markdown;
}
