import { join } from 'node:path';
import { collectResults } from '@promptkd/experiments';
import {
  formatMeanStd,
  formatPairedDifference,
  meanStd,
  pairedDifference,
  pairedInterval,
  pairedSeedsNeeded,
  renderMarkdown,
  writeLineChart,
  writeTable,
  type Table,
} from '@promptkd/reporting';
import { clMethodRegistry } from '@promptkd/continual';
import { kdMethodRegistry } from '@promptkd/kdp';
import type { CellResults } from './run-cell.js';

/** Row label: the KD method's registry label; `teacher` is the teacher's own run ("teacher alone"). */
export const rowLabel = (row: string): string => (row === 'teacher' ? 'teacher alone' : kdMethodRegistry.label(row));
const clLabel = (cl: string): string => clMethodRegistry.label(cl);

/** A finished KD run found under a grid root. */
export interface FoundCell {
  readonly dir: string;
  /** `<dataset>-<N>x<K>-t<D_T>-s<D_S>`. */
  readonly group: string;
  readonly results: CellResults;
}

/** Every `<group>/<cl>/<kd>__s<seed>/results.json` under `root`. */
export function collectCells(root: string): FoundCell[] {
  const out = collectResults<CellResults>(root, { depth: 3, match: ([, , cell]) => /^[\w-]+__s-?\d+$/.test(cell ?? '') }).map(
    (r): FoundCell => ({ dir: r.dir, group: r.segments[0] ?? '', results: r.results }),
  );
  const order = kdMethodRegistry.ordered();
  const rank = (kd: string) => order.indexOf(kd);
  return out.sort(
    (a, b) =>
      a.group.localeCompare(b.group) ||
      a.results.clMethod.localeCompare(b.results.clMethod) ||
      rank(a.results.kdMethod) - rank(b.results.kdMethod) ||
      a.results.seed - b.results.seed,
  );
}

type Metric = 'finalAccuracy' | 'forgetting';

/** Per (CL method, row) the metric by seed; row `teacher` = the teacher's own run (one per seed). */
export function bySeed(cells: readonly FoundCell[], metric: Metric): Map<string, Map<string, Map<number, number>>> {
  const out = new Map<string, Map<string, Map<number, number>>>();
  const put = (cl: string, row: string, seed: number, v: number) => {
    if (!out.has(cl)) out.set(cl, new Map());
    const m = out.get(cl) as Map<string, Map<number, number>>;
    if (!m.has(row)) m.set(row, new Map());
    (m.get(row) as Map<number, number>).set(seed, v);
  };
  for (const { results: r } of cells) {
    put(r.clMethod, r.kdMethod, r.seed, r.student.summary[metric]);
    if (r.teacher) put(r.clMethod, 'teacher', r.seed, r.teacher.summary[metric]);
  }
  return out;
}

/** Paired a − b over the seeds both have (ignoring seeds only one side has). */
export function pairedOnCommonSeeds(a: ReadonlyMap<number, number>, b: ReadonlyMap<number, number>) {
  const common = [...a.keys()].filter((s) => b.has(s)).sort((x, y) => x - y);
  const pick = (m: ReadonlyMap<number, number>) => Object.fromEntries(common.map((s) => [String(s), m.get(s) as number]));
  return pairedDifference(pick(a), pick(b));
}

/**
 * The paper's layout for one dataset split: rows = KD methods (student alone first, KDP last) and the teacher
 * alone; per CL method two columns, Acc and Fgt (%), each `mean ± std` over seeds.
 */
export function accFgtTable(cells: readonly FoundCell[], title: string): Table {
  const acc = bySeed(cells, 'finalAccuracy');
  const fgt = bySeed(cells, 'forgetting');
  const cls = clMethodRegistry.ordered(acc.keys());
  const rows = kdMethodRegistry.ordered(new Set(cls.flatMap((cl) => [...(acc.get(cl)?.keys() ?? [])])));
  const most = Math.max(0, ...[...acc.values()].flatMap((m) => [...m.values()].map((s) => s.size)));
  // mean ± std over seeds; a cell with fewer seeds than the table's most says so.
  const fmt = (m: ReadonlyMap<number, number> | undefined) =>
    m ? `${formatMeanStd([...m.values()], { scale: 100, digits: 2 })}${m.size < most ? ` (n=${m.size})` : ''}` : '';
  const seeds = (row: string) => {
    const n = new Set(cls.flatMap((cl) => [...(acc.get(cl)?.get(row)?.keys() ?? [])]));
    return n.size;
  };
  return {
    title,
    columns: [
      { key: 'method', header: 'KD method' },
      ...cls.flatMap((cl) => [
        { key: `${cl}.acc`, header: `${clLabel(cl)} Acc (%)`, align: 'right' as const },
        { key: `${cl}.fgt`, header: `${clLabel(cl)} Fgt (%)`, align: 'right' as const },
      ]),
      { key: 'seeds', header: 'seeds', align: 'right' },
    ],
    rows: rows.map((row) => ({
      method: rowLabel(row),
      ...Object.fromEntries(cls.flatMap((cl) => [[`${cl}.acc`, fmt(acc.get(cl)?.get(row))], [`${cl}.fgt`, fmt(fgt.get(cl)?.get(row))]])),
      seeds: seeds(row),
    })),
    notes: [
      'Final average accuracy over all tasks after the last task (Acc) and forgetting as the reference code computes it (Fgt = 1/N·Σ_i a_ii − a_Ni), of the student; mean ± sample std over seeds.',
      '"teacher alone" is the teacher\'s own CL run (same CL method, larger backbone, no KD); it is the same run for every KD method of a seed.',
    ],
  };
}

/**
 * Paired-by-seed differences (same seed ⇒ same prompt init and batch order): every KD method − student alone,
 * KDP − DeiT token, and teacher − student alone; `*` where |mean diff| > std of the per-seed differences
 * (exceeds the seed spread), `†` where |mean| > 2·SE (rough 95%); for n > 4, `*` implies `†`, not conversely.
 */
export function pairedTable(cells: readonly FoundCell[], title: string): Table {
  const acc = bySeed(cells, 'finalAccuracy');
  const fgt = bySeed(cells, 'forgetting');
  const cls = clMethodRegistry.ordered(acc.keys());
  const comparisons: [string, string][] = [
    ...kdMethodRegistry.ordered().filter((k) => k !== 'none').map((k) => [k, 'none'] as [string, string]),
    ['kdp', 'deit'],
    ['deit', 'kd'],
    ['teacher', 'none'],
  ];
  const fmt = (m: Map<string, Map<number, number>> | undefined, a: string, b: string) => {
    const x = m?.get(a);
    const y = m?.get(b);
    if (!x || !y) return undefined;
    const d = pairedOnCommonSeeds(x, y);
    if (d.n === 0) return undefined;
    const mark = `${d.exceedsSpread ? '*' : ''}${d.exceedsTwoSe ? '†' : ''}`;
    return `${formatPairedDifference(d, { scale: 100, digits: 2 })}${mark ? ` ${mark}` : ''} (n=${d.n})`;
  };
  const rows = comparisons
    .map(([a, b]) => ({
      comparison: `${rowLabel(a)} − ${rowLabel(b)}`,
      ...Object.fromEntries(cls.flatMap((cl) => [[`${cl}.acc`, fmt(acc.get(cl), a, b)], [`${cl}.fgt`, fmt(fgt.get(cl), a, b)]])),
    }))
    .filter((r) => cls.some((cl) => (r as Record<string, unknown>)[`${cl}.acc`] !== undefined));
  return {
    title,
    columns: [
      { key: 'comparison', header: 'paired by seed' },
      ...cls.flatMap((cl) => [
        { key: `${cl}.acc`, header: `${clLabel(cl)} ΔAcc (pts)`, align: 'right' as const },
        { key: `${cl}.fgt`, header: `${clLabel(cl)} ΔFgt (pts)`, align: 'right' as const },
      ]),
    ],
    rows,
    notes: [
      'mean ± std of the per-seed differences a − b (percentage points). * = |mean| > std of the differences (exceeds the seed spread); † = |mean| > 2·std/√n (rough 95% paired criterion; weaker than * for n > 4).',
      'For Fgt a negative difference means less forgetting.',
    ],
  };
}

/** Raw per-seed final accuracies (%), for transparency. */
export function perSeedTable(cells: readonly FoundCell[], title: string): Table {
  const acc = bySeed(cells, 'finalAccuracy');
  const fgt = bySeed(cells, 'forgetting');
  const cls = clMethodRegistry.ordered(acc.keys());
  const seeds = [...new Set(cells.map((c) => c.results.seed))].sort((a, b) => a - b);
  const rows = cls.flatMap((cl) =>
    kdMethodRegistry.ordered(acc.get(cl)?.keys() ?? []).map((row) => ({
      cl: clLabel(cl),
      method: rowLabel(row),
      ...Object.fromEntries(
        seeds.map((s) => {
          const a = acc.get(cl)?.get(row)?.get(s);
          const f = fgt.get(cl)?.get(row)?.get(s);
          return [`s${s}`, a === undefined ? '' : `${(100 * a).toFixed(1)} / ${(100 * (f ?? Number.NaN)).toFixed(1)}`];
        }),
      ),
      mean: formatMeanStd([...(acc.get(cl)?.get(row)?.values() ?? [])].map((v) => 100 * v), { digits: 2 }),
    })),
  );
  return {
    title,
    columns: [
      { key: 'cl', header: 'CL' },
      { key: 'method', header: 'method' },
      ...seeds.map((s) => ({ key: `s${s}`, header: `seed ${s} Acc / Fgt`, align: 'right' as const })),
      { key: 'mean', header: 'Acc mean ± std', align: 'right' },
    ],
    rows,
  };
}

const mean = (xs: readonly number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

/**
 * Where the averaged prediction's accuracy comes from, per (CL method, KD method): final Acc of the prediction,
 * of the class head g alone and of the KD head k alone (seen classes), and the within-task accuracy on the
 * just-learned task (argmax over that task's classes; mean over tasks) of g, k and the teacher, with the paired
 * k − teacher gap (the convergence check: is the KD head taught what the teacher knows?). mean ± std over seeds (%).
 */
export function headsTable(cells: readonly FoundCell[], title: string): Table {
  const fmt = (xs: readonly number[]) => (xs.length ? formatMeanStd(xs, { scale: 100, digits: 2 }) : '');
  const cls = clMethodRegistry.ordered(new Set(cells.map((c) => c.results.clMethod)));
  const rows = cls.flatMap((cl) => {
    const inCl = cells.filter((c) => c.results.clMethod === cl);
    const kds = kdMethodRegistry.ordered(new Set(inCl.map((c) => c.results.kdMethod)));
    const teacherBySeed = new Map(inCl.flatMap((c) => (c.results.teacher ? [[c.results.seed, c.results.teacher] as const] : [])));
    const pick = (runs: readonly FoundCell[], f: (r: CellResults) => number | undefined) => runs.map((c) => f(c.results)).filter((v): v is number => v !== undefined);
    const finalOf = (m: readonly (readonly number[])[] | undefined) => (m && m.length ? mean(m[m.length - 1] as number[]) : undefined);
    const withinOf = (r: CellResults, head: string) => {
      const w = r.student.withinTask?.[head];
      return w && w.length ? mean(w) : undefined;
    };
    const teacherWithin = (seed: number) => {
      const w = teacherBySeed.get(seed)?.withinTask?.prediction;
      return w && w.length ? mean(w) : undefined;
    };
    const out = kds.map((kd) => {
      const runs = inCl.filter((c) => c.results.kdMethod === kd);
      const kGap = pick(runs, (r) => {
        const k = withinOf(r, 'k');
        const t = teacherWithin(r.seed);
        return k === undefined || t === undefined ? undefined : k - t;
      });
      return {
        cl: clLabel(cl),
        method: rowLabel(kd),
        acc: fmt(pick(runs, (r) => r.student.summary.finalAccuracy)),
        accG: fmt(pick(runs, (r) => finalOf(r.student.heads?.g))),
        accK: fmt(pick(runs, (r) => finalOf(r.student.heads?.k))),
        fgt: fmt(pick(runs, (r) => r.student.summary.forgetting)),
        withinPred: fmt(pick(runs, (r) => withinOf(r, 'prediction'))),
        withinG: fmt(pick(runs, (r) => withinOf(r, 'g'))),
        withinK: fmt(pick(runs, (r) => withinOf(r, 'k'))),
        kGap: kGap.length ? `${formatMeanStd(kGap, { scale: 100, digits: 2 })} (n=${kGap.length})` : '',
        seeds: runs.length,
      };
    });
    const teachers = [...teacherBySeed.values()];
    if (teachers.length) {
      out.push({
        cl: clLabel(cl),
        method: rowLabel('teacher'),
        acc: fmt(teachers.map((t) => t.summary.finalAccuracy)),
        accG: '',
        accK: '',
        fgt: fmt(teachers.map((t) => t.summary.forgetting)),
        withinPred: fmt(teachers.map((t) => (t.withinTask?.prediction?.length ? mean(t.withinTask.prediction) : Number.NaN)).filter(Number.isFinite)),
        withinG: '',
        withinK: '',
        kGap: '',
        seeds: teachers.length,
      });
    }
    return out;
  });
  return {
    title,
    columns: [
      { key: 'cl', header: 'CL' },
      { key: 'method', header: 'method' },
      { key: 'acc', header: 'Acc (%)', align: 'right' },
      { key: 'accG', header: 'Acc g alone', align: 'right' },
      { key: 'accK', header: 'Acc k alone', align: 'right' },
      { key: 'fgt', header: 'Fgt (%)', align: 'right' },
      { key: 'withinPred', header: 'just-learned, within task', align: 'right' },
      { key: 'withinG', header: 'g just-learned', align: 'right' },
      { key: 'withinK', header: 'k just-learned', align: 'right' },
      { key: 'kGap', header: 'k − teacher just-learned (pts)', align: 'right' },
      { key: 'seeds', header: 'seeds', align: 'right' },
    ],
    rows,
    notes: [
      'Acc: final average accuracy (seen classes) of the prediction; g alone / k alone: the same with the class head on [CLS] or the KD head on the KD token only (token methods; the prediction is (1−α)·g + α·k).',
      '"just-learned, within task": accuracy on each task\'s test set right after learning it, argmax over that task\'s classes only, averaged over tasks (what the task\'s CE or current-task KD can teach). k − teacher: paired by seed against the teacher\'s own within-task accuracy; within 2 points = the KD head has converged to the teacher.',
      'mean ± sample std over seeds (%).',
    ],
  };
}

/** A claim of the KDP paper as a paired comparison (a − b, in points; `sign` = the direction the paper reports). */
interface Claim {
  readonly id: string;
  readonly claim: string;
  readonly metric: Metric;
  readonly a: string;
  readonly b: string;
  readonly sign: 1 | -1;
  /** The paper's margin (CIFAR-100, CODA-P, ViT-B → ViT-S; kdp-spec §6.1), in points. */
  readonly paper: number;
}

/** D1a–D1c (accuracy ordering) and D2 (KDP forgets least), CIFAR-100 CODA-P B→S margins from kdp-spec §6.1. */
export const KDP_CLAIMS: readonly Claim[] = [
  { id: 'D1a', claim: 'logit KD ≥ student alone', metric: 'finalAccuracy', a: 'kd', b: 'none', sign: 1, paper: 83.03 - 82.18 },
  { id: 'D1b', claim: 'DeiT token > logit KD', metric: 'finalAccuracy', a: 'deit', b: 'kd', sign: 1, paper: 83.79 - 83.03 },
  { id: 'D1c', claim: 'KDP > DeiT token', metric: 'finalAccuracy', a: 'kdp', b: 'deit', sign: 1, paper: 84.31 - 83.79 },
  { id: 'D2', claim: 'KDP forgets less than DeiT token', metric: 'forgetting', a: 'kdp', b: 'deit', sign: -1, paper: 5.63 - 6.58 },
  { id: 'D2', claim: 'KDP forgets less than logit KD', metric: 'forgetting', a: 'kdp', b: 'kd', sign: -1, paper: 5.63 - 7.24 },
  { id: 'D2', claim: 'KDP forgets less than the student alone', metric: 'forgetting', a: 'kdp', b: 'none', sign: -1, paper: 5.63 - 6.48 },
];

/**
 * Per claim and CL method: the paired difference a − b (points) with its standard error and 95 % interval
 * (paired t), the verdict, and the paired seeds 80 % power would need to resolve the observed difference and the
 * paper's margin at α = 0.05 (given the observed spread of the differences).
 */
export function claimsTable(cells: readonly FoundCell[], title: string): Table {
  const byMetric = { finalAccuracy: bySeed(cells, 'finalAccuracy'), forgetting: bySeed(cells, 'forgetting') };
  const cls = clMethodRegistry.ordered(byMetric.finalAccuracy.keys());
  const pts = (v: number) => `${v >= 0 ? '+' : ''}${(100 * v).toFixed(2)}`;
  const rows = cls.flatMap((cl) =>
    KDP_CLAIMS.flatMap((c) => {
      const x = byMetric[c.metric].get(cl)?.get(c.a);
      const y = byMetric[c.metric].get(cl)?.get(c.b);
      if (!x || !y) return [];
      const d = pairedOnCommonSeeds(x, y);
      if (d.n < 2) return [];
      const ci = pairedInterval(d);
      const agrees = Math.sign(d.mean) === c.sign;
      const verdict = ci.resolved ? (agrees ? 'holds' : 'reversed') : 'not resolved';
      const need = (effect: number) => {
        if (d.std === 0) return '—';
        if (Math.abs(effect) < 1e-12) return '∞';
        const n = pairedSeedsNeeded(d.std, effect);
        return n > 9999 ? '> 9999' : String(n);
      };
      return [
        {
          cl: clLabel(cl),
          id: c.id,
          claim: c.claim,
          diff: `${rowLabel(c.a)} − ${rowLabel(c.b)} (${c.metric === 'finalAccuracy' ? 'Acc' : 'Fgt'})`,
          mean: `${pts(d.mean)} ± ${(100 * d.se).toFixed(2)}`,
          ci: `[${pts(ci.lo)}, ${pts(ci.hi)}]`,
          n: d.n,
          verdict,
          needObserved: need(d.mean),
          paper: `${c.paper >= 0 ? '+' : ''}${c.paper.toFixed(2)}`,
          needPaper: need(c.paper / 100),
        },
      ];
    }),
  );
  return {
    title,
    columns: [
      { key: 'cl', header: 'CL' },
      { key: 'id', header: 'claim' },
      { key: 'claim', header: 'paper says' },
      { key: 'diff', header: 'paired a − b' },
      { key: 'mean', header: 'mean ± SE (pts)', align: 'right' },
      { key: 'ci', header: '95% CI (pts)', align: 'right' },
      { key: 'n', header: 'seeds', align: 'right' },
      { key: 'verdict', header: 'verdict', align: 'right' },
      { key: 'needObserved', header: 'seeds to resolve this difference', align: 'right' },
      { key: 'paper', header: 'paper margin (pts)', align: 'right' },
      { key: 'needPaper', header: 'seeds to resolve the paper margin', align: 'right' },
    ],
    rows,
    notes: [
      'Paired by seed (same prompt init and batch order). SE = std of the per-seed differences / √n; 95% CI = mean ± t(0.975, n−1)·SE (paired t-test). "holds": the interval excludes 0 in the paper\'s direction; "reversed": it excludes 0 in the other; "not resolved": it contains 0.',
      'Seeds to resolve: paired seeds for 80% power at α = 0.05 (two-sided), n = ⌈7.85·(std/effect)²⌉ with the observed std of the differences, for the observed mean difference and for the paper\'s margin (CIFAR-100, CODA-P, ViT-B → ViT-S, kdp-spec §6.1).',
    ],
  };
}

/** Group names in the cells. */
export function groupsOf(cells: readonly FoundCell[]): string[] {
  return [...new Set(cells.map((c) => c.group))].sort();
}

/** Writes, per dataset split, the Acc/Fgt table, the paired differences and the per-seed table (markdown + CSV). */
export function writeTables(root: string, cells: readonly FoundCell[]): { markdown: string } {
  const parts: string[] = [];
  for (const group of groupsOf(cells)) {
    const inGroup = cells.filter((c) => c.group === group);
    const r = inGroup[0]?.results;
    const label = r ? `${r.dataset} ${r.numTasks} tasks × ${r.classesPerTask} classes, D_T=${r.backbones.teacher.dim} → D_S=${r.backbones.student.dim}` : group;
    const tables = [
      [accFgtTable(inGroup, `Acc / Fgt — ${label}`), `kdp-${group}`],
      [pairedTable(inGroup, `Paired differences — ${label}`), `kdp-${group}-paired`],
      [perSeedTable(inGroup, `Per seed (Acc / Fgt %) — ${label}`), `kdp-${group}-seeds`],
      [headsTable(inGroup, `Heads: class head g, KD head k, averaged prediction — ${label}`), `kdp-${group}-heads`],
      [claimsTable(inGroup, `The paper's claims — ${label}`), `kdp-${group}-claims`],
    ] as const;
    for (const [table, name] of tables) {
      writeTable(root, table, { name });
      parts.push(renderMarkdown(table));
    }
  }
  return { markdown: parts.join('\n') };
}

/**
 * Accuracy on the seen classes after each task (mean over seeds with a ± std band), one figure per split and CL method
 * (SVG + PNG); `methods` limits the KD methods drawn (the teacher is always drawn).
 */
export async function writePlots(root: string, cells: readonly FoundCell[], options: { methods?: readonly string[] } = {}): Promise<string[]> {
  const written: string[] = [];
  for (const group of groupsOf(cells)) {
    const inGroup = cells.filter((c) => c.group === group);
    for (const cl of clMethodRegistry.ordered(new Set(inGroup.map((c) => c.results.clMethod)))) {
      const runs = inGroup.filter((c) => c.results.clMethod === cl);
      const curves = new Map<string, number[][]>();
      const teacherSeeds = new Set<number>(); // the teacher run is stored in every KD cell of a seed: count it once
      const add = (row: string, seed: number, curve: readonly number[]) => {
        if (row === 'teacher') {
          if (teacherSeeds.has(seed)) return;
          teacherSeeds.add(seed);
        }
        if (!curves.has(row)) curves.set(row, []);
        (curves.get(row) as number[][]).push([...curve]);
      };
      for (const { results: r } of runs) {
        if (options.methods && !options.methods.includes(r.kdMethod)) continue;
        add(r.kdMethod, r.seed, r.student.summary.averageAccuracyPerTask);
        if (r.teacher) add('teacher', r.seed, r.teacher.summary.averageAccuracyPerTask);
      }
      const series = kdMethodRegistry.ordered(curves.keys()).map((row) => {
        const list = curves.get(row) as number[][];
        const tasks = Math.max(...list.map((c) => c.length));
        const at = (t: number) => meanStd(list.map((c) => c[t] as number).filter((v) => v !== undefined));
        return {
          name: `${rowLabel(row)} (n=${list.length})`,
          points: Array.from({ length: tasks }, (_, t) => [t + 1, 100 * at(t).mean] as const),
          // seed band: mean ± std over seeds (std 0 with one seed)
          band: Array.from({ length: tasks }, (_, t) => {
            const { mean: m, std } = at(t);
            const sd = Number.isFinite(std) ? std : 0;
            return [t + 1, 100 * (m - sd), 100 * (m + sd)] as const;
          }),
        };
      });
      const name = `acc-per-task-${group}-${cl}`;
      await writeLineChart(
        root,
        name,
        { title: `${clLabel(cl)}, ${group}: accuracy on seen classes after each task (mean, band ± std over seeds)`, xLabel: 'task', yLabel: 'average accuracy (%)', series, yDomain: [0, 100] },
        { png: true },
      );
      written.push(join(root, `${name}.svg`));
    }
  }
  return written;
}
