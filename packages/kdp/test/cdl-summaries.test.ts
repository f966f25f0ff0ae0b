import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import { summarize } from '@promptkd/continual';
import { createRunFolder } from '@promptkd/experiments';
import {
  CDL_TEACHER_ROW,
  cdlAccuracyCurves,
  cdlConfigOf,
  cdlGroupName,
  cdlHeadSummary,
  cdlRowLabel,
  cdlRunName,
  cdlSeedValues,
  cdlTeacherRunName,
  collectCdlRuns,
  kdpPresets,
  resolveClConfig,
  vitShapeOf,
  type CdlCellResults,
  type FoundCdlRun,
} from '@promptkd/kdp/node';

/** A hand-made 2-task result: final row [a0, a1], just-learned a00 → forgetting (a00 − a0)/2. */
function stream(a00: number, a0: number, a1: number) {
  const accuracy = [[a00], [a0, a1]];
  return { accuracy, withinTask: { prediction: [a00, a1] }, summary: summarize(accuracy), lossPerEpoch: [[1], [1]], seconds: 1 };
}

function results(kd: string, seed: number, a0: number, cl = 'coda', teacher = true): CdlCellResults {
  return {
    dataset: 'fashionMnist', numTasks: 2, classesPerTask: 5, clMethod: cl, kdMethod: kd, seed, preset: 'cpu',
    student: stream(0.9, a0, 0.8),
    ...(teacher ? { teacher: stream(0.95, 0.9 - 0.01 * seed, 0.9) } : {}),
    backbones: { teacher: { weights: 't', dim: 64, depth: 4 }, student: { weights: 's', dim: 32, depth: 4 } },
    images: { pool: 10, train: 30, test: 30 },
    seconds: 1,
  };
}
/** The cpu preset on the 2 × 5 split (the preset's own split is 5 × 2). */
const cpu2x5 = { ...kdpPresets.cpu, data: { ...kdpPresets.cpu.data, numTasks: 2, classesPerTask: 5 } };
const run = (r: CdlCellResults): FoundCdlRun => ({ dir: `/x/${r.kdMethod}__s${r.seed}`, group: 'g', results: r });

describe('run names and configs of a CDL grid', () => {
  const p = cpu2x5;
  it('names groups, KD runs and the shared teacher run', () => {
    expect(cdlGroupName(p)).toBe('fashionMnist-2x5-t64-s32');
    expect(cdlRunName(p, 'coda', 'kdp', 3)).toBe('fashionMnist-2x5-t64-s32/coda/kdp__s3');
    expect(cdlTeacherRunName(p, 'l2p', 0)).toBe('fashionMnist-2x5-t64-s32/l2p/teacher__s0');
  });
  it('builds the run config of a preset', () => {
    expect(cdlConfigOf(p, 'coda', 'dkd', 4)).toEqual({
      clMethod: 'coda', clConfig: resolveClConfig(p, 'coda', 2), kdMethod: 'dkd', hyper: p.kd, numClasses: 10, training: p.training, seed: 4,
      cacheQueries: true, cacheTeacherLogits: true,
    });
  });
  it('ViT shapes from the models presets, with timm names', () => {
    expect(vitShapeOf('vitSmall')).toEqual({ timm: 'vit_small_patch16_224', imageSize: 224, patchSize: 16, channels: 3, dim: 384, depth: 12, heads: 6, mlpRatio: 4 });
    expect(vitShapeOf('vitCdlStudent')).toEqual({ imageSize: 28, patchSize: 7, channels: 1, dim: 32, depth: 4, heads: 2, mlpRatio: 2 });
    expect(() => vitShapeOf('vitHuge')).toThrow(ConfigError);
  });
});

describe('CDL summaries', () => {
  const runs = [
    ...[0, 1, 2].map((s) => run(results('none', s, 0.5 + 0.01 * s))),
    ...[0, 1].map((s) => run(results('kdp', s, 0.6 + 0.01 * s))),
    run(results('kd', 0, 0.55, 'l2p', false)),
  ];
  it('labels rows by the KD registry, and the teacher row as "teacher alone"', () => {
    expect(['none', 'deit', 'kdp', CDL_TEACHER_ROW].map(cdlRowLabel)).toEqual(['student alone', 'DeiT token', 'KDP', 'teacher alone']);
  });
  it('a metric by CL method, row and seed; the teacher once per seed', () => {
    const acc = cdlSeedValues(runs, 'finalAccuracy');
    expect([...acc.keys()]).toEqual(['coda', 'l2p']);
    expect([...(acc.get('coda')?.keys() ?? [])]).toEqual(['none', CDL_TEACHER_ROW, 'kdp']);
    expect(acc.get('coda')?.get('kdp')).toEqual(new Map([[0, (0.6 + 0.8) / 2], [1, (0.61 + 0.8) / 2]]));
    expect(acc.get('coda')?.get(CDL_TEACHER_ROW)?.get(2)).toBeCloseTo((0.88 + 0.9) / 2, 12);
    expect(acc.get('l2p')?.has(CDL_TEACHER_ROW)).toBe(false);
    expect(cdlSeedValues(runs, 'forgetting').get('coda')?.get('none')?.get(0)).toBeCloseTo((0.9 - 0.5) / 2, 12);
  });
  it('accuracy-per-task curves per seed, the teacher counted once per seed, optionally some methods only', () => {
    const curves = cdlAccuracyCurves(runs);
    expect(curves.get('coda')?.get('none')).toEqual([0, 1, 2].map((s) => [0.9, (0.5 + 0.01 * s + 0.8) / 2]));
    expect(curves.get('coda')?.get(CDL_TEACHER_ROW)).toHaveLength(3);
    const some = cdlAccuracyCurves(runs, { methods: ['kdp'] });
    expect([...(some.get('coda')?.keys() ?? [])]).toEqual(['kdp', CDL_TEACHER_ROW]);
    expect(some.get('coda')?.get(CDL_TEACHER_ROW)).toHaveLength(2); // only the seeds of the drawn runs
    expect(some.has('l2p')).toBe(false);
  });
  it('heads: final accuracy of g and k alone, within-task accuracy, k − teacher paired by seed, the teacher row last', () => {
    const withHeads = runs.map((c) =>
      c.results.kdMethod !== 'kdp'
        ? c
        : { ...c, results: { ...c.results, student: { ...c.results.student, heads: { g: [[0.9], [0.4, 0.8]], k: [[0.7], [0.6, 0.6]] }, withinTask: { prediction: [0.9, 0.8], k: [0.85, 0.87] } } } },
    );
    const rows = cdlHeadSummary(withHeads);
    expect(rows.map((r) => [r.clMethod, r.row, r.seeds])).toEqual([['coda', 'none', 3], ['coda', 'kdp', 2], ['coda', CDL_TEACHER_ROW, 3], ['l2p', 'kd', 1]]);
    const kdp = rows[1];
    const r12 = (xs: readonly number[] | undefined) => xs?.map((v) => +v.toFixed(12));
    expect(r12(kdp?.accuracyG)).toEqual([0.6, 0.6]);
    expect(r12(kdp?.accuracyK)).toEqual([0.6, 0.6]);
    // forgetting as the code computes it: ((0.9 − 0.4) + 0) / 2 for g, ((0.7 − 0.6) + 0) / 2 for k
    expect(r12(kdp?.forgettingG)).toEqual([0.25, 0.25]);
    expect(r12(kdp?.forgettingK)).toEqual([0.05, 0.05]);
    expect(r12(kdp?.withinTask.k)).toEqual([0.86, 0.86]);
    // teacher within task: (0.95 + 0.9) / 2 = 0.925 every seed
    expect(kdp?.kMinusTeacher.map((v) => +v.toFixed(12))).toEqual([-0.065, -0.065]);
    expect(rows[0]).toMatchObject({ accuracyG: [], accuracyK: [], forgettingG: [], forgettingK: [], kMinusTeacher: [] });
    expect(r12(rows[2]?.withinTask.prediction)).toEqual([0.925, 0.925, 0.925]);
  });
});

describe('collectCdlRuns', () => {
  const root = mkdtempSync(join(tmpdir(), 'kdp-collect-'));
  afterAll(() => rmSync(root, { recursive: true, force: true }));
  it('finds the finished KD runs of a grid in group, CL, KD (registry) and seed order; skips teacher and unfinished folders', () => {
    const p = cpu2x5;
    const write = (r: CdlCellResults, finished = true) => {
      const f = createRunFolder(root, { name: cdlRunName(p, r.clMethod, r.kdMethod, r.seed), seed: r.seed, config: { kd: r.kdMethod } });
      if (finished) f.writeResults(r);
    };
    write(results('kdp', 1, 0.6));
    write(results('none', 1, 0.5));
    write(results('kdp', 0, 0.6));
    write(results('deit', 0, 0.6), false);
    write(results('kd', 0, 0.6, 'l2p'));
    createRunFolder(root, { name: cdlTeacherRunName(p, 'coda', 0), config: {} });
    const found = collectCdlRuns(root);
    expect(found.map((f) => `${f.group}/${f.results.clMethod}/${f.results.kdMethod}/${f.results.seed}`)).toEqual([
      'fashionMnist-2x5-t64-s32/coda/none/1',
      'fashionMnist-2x5-t64-s32/coda/kdp/0',
      'fashionMnist-2x5-t64-s32/coda/kdp/1',
      'fashionMnist-2x5-t64-s32/l2p/kd/0',
    ]);
    expect(found[0]?.dir).toBe(join(root, 'fashionMnist-2x5-t64-s32', 'coda', 'none__s1'));
    expect(collectCdlRuns(join(root, 'nothing-here'))).toEqual([]);
  });
});
