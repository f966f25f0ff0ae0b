import { describe, expect, it } from 'vitest';
import { summarize } from '@promptkd/continual';
import type { CdlCellResults as CellResults, FoundCdlRun as FoundCell } from '@promptkd/kdp';
import { accFgtTable, claimsTable, headsTable, pairedTable, perSeedTable } from '../src/index.js';

/** A hand-made 2-task result: final row [a0, a1], just-learned a00 → forgetting (a00 − a0)/2. */
function stream(a00: number, a0: number, a1: number) {
  const accuracy = [[a00], [a0, a1]];
  return { accuracy, withinTask: { prediction: [a00, a1] }, summary: summarize(accuracy), lossPerEpoch: [[1], [1]], seconds: 1 };
}

function cell(kd: string, seed: number, finalTask0: number, teacherFinal = 0.9): FoundCell {
  const results: CellResults = {
    dataset: 'fashionMnist',
    numTasks: 2,
    classesPerTask: 5,
    clMethod: 'coda',
    kdMethod: kd,
    seed,
    preset: 'cpu',
    student: stream(0.9, finalTask0, 0.8),
    teacher: stream(0.95, teacherFinal, 0.9),
    backbones: { teacher: { weights: 't', dim: 64, depth: 4 }, student: { weights: 's', dim: 32, depth: 4 } },
    images: { pool: 10000, train: 3000, test: 3000 },
    seconds: 1,
  };
  return { dir: `/x/${kd}__s${seed}`, group: 'fashionMnist-2x5-t64-s32', results };
}

// Seeds 0..4. student alone: task-0 final accuracy 0.50..0.58; KD: same ± 1 pt noise (no effect);
// KDP: +10 pts every seed with small jitter (a clear effect); DeiT: +10 pts on average but ±15 pts swings.
const none = [0.5, 0.52, 0.54, 0.56, 0.58];
const kdNoise = [0.01, -0.01, 0.0, 0.01, -0.01];
const kdpJitter = [0.1, 0.11, 0.09, 0.1, 0.1];
const deitSwing = [0.25, -0.05, 0.25, -0.05, 0.1];
// DKD: mean gain just below the spread but above 2·SE (diffs 0.1 ×4, −0.06 → mean/std = 0.95).
const dkdDiff = [0.1, 0.1, 0.1, 0.1, -0.06];
const cells: FoundCell[] = [
  ...none.map((v, s) => cell('none', s, v)),
  ...none.map((v, s) => cell('kd', s, v + (kdNoise[s] as number))),
  ...none.map((v, s) => cell('kdp', s, v + (kdpJitter[s] as number))),
  ...none.map((v, s) => cell('deit', s, v + (deitSwing[s] as number))),
  ...none.map((v, s) => cell('dkd', s, v + (dkdDiff[s] as number))),
];
type Row = Record<string, string | number>;

describe('Acc/Fgt table (paper layout, mean ± std over seeds)', () => {
  const t = accFgtTable(cells, 'test');
  const rows = t.rows as Row[];
  it('rows are KD methods in the paper order plus the teacher; columns Acc and Fgt per CL method', () => {
    expect(rows.map((r) => r.method)).toEqual(['student alone', 'KD', 'DKD', 'DeiT token', 'KDP', 'teacher alone']);
    expect(t.columns.map((c) => (typeof c === 'string' ? c : c.header))).toEqual(['KD method', 'CODA-P Acc (%)', 'CODA-P Fgt (%)', 'seeds']);
  });
  it('formats mean ± sample std of the final average accuracy and forgetting', () => {
    // student alone: final acc = (a0 + 0.8)/2 with a0 = 0.50..0.58 → mean 67.00, std of a0/2 = 1.58/2
    expect(rows[0]?.['coda.acc']).toBe('67.00 ± 1.58');
    // forgetting (0.9 − a0)/2: mean 18.00, same std
    expect(rows[0]?.['coda.fgt']).toBe('18.00 ± 1.58');
    // the teacher run is one per seed even though each KD cell stores it: (0.9 + 0.9)/2, no spread
    expect(rows[5]?.['coda.acc']).toBe('90.00 ± 0.00');
    expect(rows[5]?.seeds).toBe(5);
  });
});

describe('paired-by-seed differences', () => {
  const rows = pairedTable(cells, 'test').rows as Row[];
  const row = (label: string) => rows.find((r) => r.comparison === label) as Row;
  it('marks a consistent gain (exceeds the seed spread and 2·SE)', () => {
    // KDP − none: per-seed diffs in acc = jitter/2 = 5, 5.5, 4.5, 5, 5 pts → mean 5.00, std 0.35
    expect(row('KDP − student alone')['coda.acc']).toBe('+5.00 ± 0.35 *† (n=5)');
    expect(row('KDP − student alone')['coda.fgt']).toBe('-5.00 ± 0.35 *† (n=5)');
  });
  it('does not mark noise or a large-but-unstable gain', () => {
    expect(row('KD − student alone')['coda.acc']).toBe('+0.00 ± 0.50 (n=5)');
    const deit = row('DeiT token − student alone')['coda.acc'] as string;
    expect(deit).toMatch(/^\+5\.00 ± 7\.\d\d \(n=5\)$/); // mean 5 but std 7.5 → no mark
    expect(row('KDP − DeiT token')['coda.acc']).not.toMatch(/\*/);
  });
  it('marks † (2·SE) separately from * (seed spread)', () => {
    expect(row('DKD − student alone')['coda.acc']).toBe('+3.40 ± 3.58 † (n=5)');
  });
  it('includes teacher − student alone and omits comparisons with missing methods', () => {
    expect(row('teacher alone − student alone')['coda.acc']).toMatch(/^\+23\.00 ± 1\.58 \*† \(n=5\)$/);
    expect(rows.find((r) => r.comparison === 'FitNets − student alone')).toBeUndefined();
  });
  it('pairs only the seeds both methods have', () => {
    const partial = [...cells.filter((c) => c.results.kdMethod !== 'kdp'), ...cells.filter((c) => c.results.kdMethod === 'kdp' && c.results.seed < 3)];
    const r = (pairedTable(partial, 't').rows as Row[]).find((x) => x.comparison === 'KDP − student alone') as Row;
    expect(r['coda.acc']).toMatch(/\(n=3\)$/);
  });
});

describe('per-seed table', () => {
  it('lists Acc / Fgt per seed for each method', () => {
    const rows = perSeedTable(cells, 'test').rows as Row[];
    expect(rows[0]).toMatchObject({ group: 'CODA-P', method: 'student alone', s0: '65.0 / 20.0', s4: '69.0 / 16.0', mean: '67.00 ± 1.58' });
  });
});

describe('heads table (g, k, averaged prediction, convergence gap to the teacher)', () => {
  // KDP seed s: g alone final row [0.4, 0.8], k alone [0.6, 0.6]; k just-learned within task 0.85 + 0.01·s,
  // teacher within task (0.95 + 0.9)/2 = 0.925 → k − teacher = −7.5 + s pts.
  const withHeads = cells.map((c) =>
    c.results.kdMethod !== 'kdp'
      ? c
      : {
          ...c,
          results: {
            ...c.results,
            student: {
              ...c.results.student,
              heads: { g: [[0.9], [0.4, 0.8]], k: [[0.7], [0.6, 0.6]] },
              withinTask: { ...c.results.student.withinTask, k: [0.85 + 0.01 * c.results.seed, 0.85 + 0.01 * c.results.seed] },
            },
          },
        },
  );
  const rows = headsTable(withHeads, 'test').rows as Row[];
  const row = (m: string) => rows.find((r) => r.method === m) as Row;
  it('shows the final accuracy of each head alone and the k − teacher just-learned gap', () => {
    expect(row('KDP')).toMatchObject({ accG: '60.00 ± 0.00', accK: '60.00 ± 0.00', kGap: '-5.50 ± 1.58 (n=5)', seeds: 5 });
    expect(row('KDP').withinK).toBe('87.00 ± 1.58');
    expect(row('KDP')).toMatchObject({ fgtG: '25.00 ± 0.00', fgtK: '5.00 ± 0.00' });
    expect(row('student alone')).toMatchObject({ accG: '', accK: '', fgtG: '', fgtK: '', kGap: '' });
    expect(row('teacher alone')).toMatchObject({ acc: '90.00 ± 0.00', withinPred: '92.50 ± 0.00', seeds: 5 });
  });
});

describe('claims table (paired t verdicts, seeds needed)', () => {
  const base = [0.5, 0.52, 0.54, 0.56, 0.58];
  const plus = (xs: number[], ys: number[]) => xs.map((x, i) => x + (ys[i] as number));
  const kd = plus(base, [0.04, 0.05, 0.03, 0.04, 0.04]);
  const deit = plus(kd, [-0.06, -0.02, -0.1, -0.04, -0.08]);
  const kdp = plus(deit, [0.1, -0.1, 0.05, -0.05, 0]);
  const all = [
    ...base.map((v, s) => cell('none', s, v)),
    ...kd.map((v, s) => cell('kd', s, v)),
    ...deit.map((v, s) => cell('deit', s, v)),
    ...kdp.map((v, s) => cell('kdp', s, v)),
  ];
  const rows = claimsTable(all, 't').rows as Row[];
  const row = (claim: string) => rows.find((r) => r.claim === claim) as Row;
  it('D1a holds: +2 pts on every seed (Acc = (a0 + 0.8)/2), CI excludes 0', () => {
    // diffs 2, 2.5, 1.5, 2, 2 pts: mean 2.00, std 0.354, SE 0.158, t(4)·SE = 0.439
    expect(row('logit KD ≥ student alone')).toMatchObject({ id: 'D1a', mean: '+2.00 ± 0.16', ci: '[+1.56, +2.44]', n: 5, verdict: 'holds', needObserved: '2' });
  });
  it('D1b reversed: DeiT below KD on every seed', () => {
    // diffs −3, −1, −5, −2, −4 pts: mean −3.00, std 1.581, SE 0.707, ± 1.963
    expect(row('DeiT token > logit KD')).toMatchObject({ mean: '-3.00 ± 0.71', ci: '[-4.96, -1.04]', verdict: 'reversed' });
    // the paper's +0.76 would need ⌈7.85·(1.581/0.76)²⌉ = 34 seeds at this spread
    expect(row('DeiT token > logit KD').needPaper).toBe('34');
  });
  it('D1c not resolved: ±5 pts swings around 0; D2 rows on forgetting', () => {
    expect(row('KDP > DeiT token')).toMatchObject({ mean: '+0.00 ± 1.77', verdict: 'not resolved', needObserved: '∞' }); // mean 0 up to rounding
    expect(rows.filter((r) => r.id === 'D2').map((r) => r.diff)).toEqual([
      'KDP − DeiT token (Fgt)',
      'KDP − KD (Fgt)',
      'KDP − student alone (Fgt)',
    ]);
  });
});
