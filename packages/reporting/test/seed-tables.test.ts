import { describe, expect, it } from 'vitest';
import {
  claimsTable,
  formatSeedsToResolve,
  judgeClaim,
  meanStdTable,
  pairedDifference,
  pairedDifferencesTable,
  pairedOnCommonSeeds,
  perSeedTable,
  renderMarkdown,
  seedBandChart,
  seedBandSeries,
  seedsToResolve,
  type SeedGrid,
} from '../src/index.js';

type Row = Record<string, string | number>;
const bySeed = (xs: readonly number[]) => new Map(xs.map((v, s) => [s, v]));

// One group `g`, seeds 0..4. base: 0.50..0.58; up: +0.10 every seed with jitter (a clear gain);
// noisy: ±1 pt (no effect); swing: +5 pts on average with ±15 pt swings.
const base = [0.5, 0.52, 0.54, 0.56, 0.58];
const up = base.map((v, s) => v + ([0.1, 0.11, 0.09, 0.1, 0.1][s] as number));
const noisy = base.map((v, s) => v + ([0.01, -0.01, 0, 0.01, -0.01][s] as number));
const swing = base.map((v, s) => v + ([0.25, -0.05, 0.25, -0.05, -0.15][s] as number));
const grid: SeedGrid = new Map([['g', new Map([['base', bySeed(base)], ['up', bySeed(up)], ['noisy', bySeed(noisy)], ['swing', bySeed(swing)]])]]);

describe('pairedOnCommonSeeds', () => {
  it('pairs only the seeds both sides have, in seed order', () => {
    const d = pairedOnCommonSeeds(new Map([[2, 0.9], [0, 0.8], [1, 0.7]]), new Map([[1, 0.6], [0, 0.6], [5, 0.1]]));
    expect(d.seeds).toEqual(['0', '1']);
    expect(d.diffs.map((x) => +x.toFixed(10))).toEqual([0.2, 0.1]);
    expect(pairedOnCommonSeeds(new Map([[0, 1]]), new Map([[1, 1]])).n).toBe(0);
  });
});

describe('pairedDifferencesTable', () => {
  const t = pairedDifferencesTable({
    title: 'paired',
    metrics: [{ key: 'acc', header: 'ΔAcc', values: grid }],
    comparisons: [['up', 'base'], ['noisy', 'base'], ['swing', 'base'], ['missing', 'base']],
    groupLabel: (g) => g.toUpperCase(),
    rowLabel: (r) => `<${r}>`,
    scale: 100,
    unit: 'points',
    notes: ['extra'],
  });
  const rows = t.rows as Row[];
  it('prints mean ± std of the per-seed differences with * (exceeds the spread), † (2·SE) and n', () => {
    expect(t.columns).toEqual([{ key: 'comparison', header: 'paired by seed' }, { key: 'g.acc', header: 'G ΔAcc', align: 'right' }]);
    expect(rows.map((r) => r.comparison)).toEqual(['<up> − <base>', '<noisy> − <base>', '<swing> − <base>']); // no data: left out
    expect(rows[0]?.['g.acc']).toBe('+10.00 ± 0.71 *† (n=5)');
    expect(rows[1]?.['g.acc']).toBe('+0.00 ± 1.00 (n=5)');
    expect(rows[2]?.['g.acc']).toBe('+5.00 ± 18.71 (n=5)'); // diffs 25, −5, 25, −5, −15: std √350
    expect(t.notes?.[0]).toMatch(/^mean ± std of the per-seed differences a − b \(points\)\. \* = /);
    expect(t.notes?.[1]).toBe('extra');
  });
  it('marks † without * when the gain is below the spread but above 2·SE', () => {
    const dkd = base.map((v, s) => v + ([0.1, 0.1, 0.1, 0.1, -0.06][s] as number)); // mean/std = 0.95
    const g: SeedGrid = new Map([['g', new Map([['base', bySeed(base)], ['dkd', bySeed(dkd)]])]]);
    const r = pairedDifferencesTable({ title: 't', metrics: [{ key: 'a', header: 'Δ', values: g }], comparisons: [['dkd', 'base']], scale: 100 }).rows as Row[];
    expect(r[0]?.['g.a']).toBe('+6.80 ± 7.16 † (n=5)');
  });
});

describe('claims', () => {
  it('seeds to resolve an effect: — without spread, ∞ for a zero effect, capped display', () => {
    expect(seedsToResolve(0, 1)).toBeUndefined();
    expect(seedsToResolve(1, 0)).toBe(Number.POSITIVE_INFINITY);
    expect(seedsToResolve(1.581, 0.76)).toBe(34); // ⌈7.85·(1.581/0.76)²⌉
    expect([undefined, Number.POSITIVE_INFINITY, 12345, 34].map(formatSeedsToResolve)).toEqual(['—', '∞', '> 9999', '34']);
  });
  it('judges a claim by the paired 95 % interval', () => {
    const d = pairedDifference([11, 12, 13, 14, 15], [10, 10, 10, 10, 10]); // mean 3, CI [1.04, 4.96]
    expect(judgeClaim(d, { sign: 1 }).verdict).toBe('holds');
    expect(judgeClaim(d, { sign: -1 }).verdict).toBe('reversed');
    expect(judgeClaim(pairedDifference([8, 12, 9, 11], [10, 10, 10, 10]), { sign: 1 }).verdict).toBe('not resolved');
    expect(judgeClaim(d, { sign: 1, margin: 1 })).toMatchObject({ seedsForObserved: 3, seedsForMargin: 20 }); // std √2.5
  });
  it('tabulates claims per group: mean ± SE, CI, verdict, seeds for the observed difference and for the margin', () => {
    const t = claimsTable({
      title: 'claims',
      claims: [
        { id: 'C1', claim: 'up > base', metric: 'acc', a: 'up', b: 'base', sign: 1, margin: 2 },
        { id: 'C2', claim: 'noisy < base', metric: 'acc', a: 'noisy', b: 'base', sign: -1, margin: -1 },
        { id: 'C3', claim: 'missing > base', metric: 'acc', a: 'missing', b: 'base', sign: 1, margin: 1 },
      ],
      metrics: { acc: { label: 'Acc', values: grid } },
      scale: 100,
      unit: 'pts',
      groupHeader: 'CL',
      marginSource: 'the paper, Table 1',
    });
    const rows = t.rows as Row[];
    expect(rows).toHaveLength(2);
    // diffs 10, 11, 9, 10, 10 pts: mean 10, std 0.707, SE 0.316, t(4)·SE = 0.878
    expect(rows[0]).toMatchObject({ group: 'g', id: 'C1', diff: 'up − base (Acc)', mean: '+10.00 ± 0.32', ci: '[+9.12, +10.88]', n: 5, verdict: 'holds', needObserved: '2', paper: '+2.00', needPaper: '2' });
    expect(rows[1]).toMatchObject({ id: 'C2', verdict: 'not resolved', paper: '-1.00', needPaper: '8' }); // ⌈7.85·(1/1)²⌉
    expect(renderMarkdown(t)).toContain('| CL | claim | paper says | paired a − b | mean ± SE (pts) | 95% CI (pts) |');
    expect(t.notes?.[1]).toMatch(/paper's margin \(the paper, Table 1\)\.$/);
  });
});

describe('perSeedTable', () => {
  it('one column per seed with every metric, and the first metric\'s mean ± std', () => {
    const second: SeedGrid = new Map([['g', new Map([['base', bySeed([0.1, 0.2, 0.3, 0.4, 0.5])], ['up', bySeed([0, 0, 0])]])]]);
    const t = perSeedTable({
      title: 'seeds',
      metrics: [{ label: 'Acc', values: new Map([['g', new Map([['up', bySeed(up)], ['base', bySeed(base)]])]]) }, { label: 'Fgt', values: second }],
      order: (rows) => [...rows].sort(),
      scale: 100,
    });
    const rows = t.rows as Row[];
    expect(rows.map((r) => r.method)).toEqual(['base', 'up']);
    expect(rows[0]).toMatchObject({ group: 'g', s0: '50.0 / 10.0', s4: '58.0 / 50.0', mean: '54.00 ± 3.16' });
    expect(rows[1]).toMatchObject({ s3: '66.0 / NaN' }); // a metric missing for a seed prints NaN
    expect(t.columns.map((c) => (typeof c === 'string' ? c : c.header))).toEqual(['group', 'method', ...[0, 1, 2, 3, 4].map((s) => `seed ${s} Acc / Fgt`), 'Acc mean ± std']);
  });
});

describe('seedBandSeries', () => {
  it('mean over seeds per step with a ± std band (zero with one seed), x from 1', () => {
    const s = seedBandSeries('m', [[0.5, 0.6], [0.7, 0.8, 0.9]], { scale: 100 });
    expect(s.name).toBe('m');
    expect(s.points.map((p) => (p as readonly number[]).map((v) => +v.toFixed(6)))).toEqual([[1, 60], [2, 70], [3, 90]]);
    const sd = 100 * Math.sqrt(0.02);
    expect(s.band?.map(([x, lo, hi]) => [x, +lo.toFixed(6), +hi.toFixed(6)])).toEqual([[1, +(60 - sd).toFixed(6), +(60 + sd).toFixed(6)], [2, +(70 - sd).toFixed(6), +(70 + sd).toFixed(6)], [3, 90, 90]]);
    expect(seedBandSeries('z', [[1, 2]], { firstX: 0 }).points).toEqual([[0, 1], [1, 2]]);
  });
});

describe('meanStdTable', () => {
  it('rows × (groups × metrics) of mean ± std over seeds, (n=…) where a cell has fewer seeds, and a seeds column', () => {
    const acc: SeedGrid = new Map([
      ['a', new Map([['up', bySeed(up)], ['base', bySeed(base)]])],
      ['b', new Map([['base', new Map([[0, 0.5], [1, 0.7]])]])],
    ]);
    const t = meanStdTable({ title: 'results', metrics: [{ key: 'acc', header: 'Acc (%)', values: acc }], order: (rows) => [...rows].sort(), groupLabel: (g) => g.toUpperCase(), scale: 100, notes: ['n'] });
    expect(t.columns.map((c) => (typeof c === 'string' ? c : c.header))).toEqual(['method', 'A Acc (%)', 'B Acc (%)', 'seeds']);
    expect(t.rows).toEqual([
      { method: 'base', 'a.acc': '54.00 ± 3.16', 'b.acc': '60.00 ± 14.14 (n=2)', seeds: 5 },
      { method: 'up', 'a.acc': '64.00 ± 3.08', 'b.acc': '', seeds: 5 },
    ]);
    expect(t.notes).toEqual(['n']);
  });
});

describe('seedBandChart', () => {
  it('one band series per row, ordered and labelled with its seed count', () => {
    const curves = new Map([['b', [[0.5, 0.6], [0.7, 0.8]]], ['a', [[0.1]]]]);
    const chart = seedBandChart({ title: 't', xLabel: 'task', yLabel: '%', curves, order: (r) => [...r].sort(), rowLabel: (r) => r.toUpperCase(), scale: 100, yDomain: [0, 100] });
    expect(chart).toMatchObject({ title: 't', xLabel: 'task', yLabel: '%', yDomain: [0, 100] });
    expect(chart.series.map((x) => x.name)).toEqual(['A (n=1)', 'B (n=2)']);
    expect(chart.series[1]).toEqual(seedBandSeries('B (n=2)', [[0.5, 0.6], [0.7, 0.8]], { scale: 100 }));
  });
});
