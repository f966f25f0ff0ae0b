import { describe, expect, it } from 'vitest';
import { cdlCellName, cdlCellRunOptions, cdlGridCells, cdlRunName, kdpPresets, resolveCdlCell, resolveKdpPreset } from '@promptkd/kdp/node';

describe('cdlGridCells', () => {
  it('one cell per seed × split × CL method (in that nesting), each with every KD method', () => {
    const cells = cdlGridCells({ preset: 'cpu', kd: ['none', 'kdp'], dataRoot: '/data' }, { splits: ['2x5', '5x2'], clMethods: ['coda', 'l2p'], seeds: [0, 1] });
    expect(cells.map((c) => `${c.seed} ${c.split} ${c.cl}`)).toEqual([
      '0 2x5 coda', '0 2x5 l2p', '0 5x2 coda', '0 5x2 l2p',
      '1 2x5 coda', '1 2x5 l2p', '1 5x2 coda', '1 5x2 l2p',
    ]);
    expect(cells[0]).toEqual({ preset: 'cpu', kd: ['none', 'kdp'], dataRoot: '/data', split: '2x5', cl: 'coda', seed: 0 });
    expect(cdlGridCells({ preset: 'cpu', kd: ['kd'] }, { splits: ['5x2'], clMethods: ['coda'], seeds: [] })).toEqual([]);
  });
});

describe('cdlCellName', () => {
  it('names a cell <group>/<cl>/s<seed>, next to its KD runs <group>/<cl>/<kd>__s<seed>', () => {
    expect(cdlCellName(kdpPresets.demo, 'coda', 3)).toBe('fashionMnist-2x5-t64-s32/coda/s3');
    expect(cdlRunName(kdpPresets.demo, 'coda', 'kdp', 3)).toBe('fashionMnist-2x5-t64-s32/coda/kdp__s3');
  });
});

describe('resolveCdlCell / cdlCellRunOptions', () => {
  const cell = { preset: 'paper', split: '2x5', cl: 'dualprompt', kd: ['none', 'deit'], seed: 4, student: 'vitTiny', set: ['training.epochs=2'], dataRoot: '/d', teacherWeights: '/t.safetensors' } as const;
  it('the preset with the cell\'s split, shapes and overrides', () => {
    expect(resolveCdlCell(cell)).toEqual(resolveKdpPreset({ preset: 'paper', split: '2x5', student: 'vitTiny', overrides: ['training.epochs=2'] }));
    expect(resolveCdlCell(cell).training.epochs).toBe(2);
  });
  it('checks the KD and CL method keys first', () => {
    expect(() => resolveCdlCell({ ...cell, kd: ['none', 'nope'] })).toThrow(/nope/);
    expect(() => resolveCdlCell({ ...cell, cl: 'ewc' })).toThrow(/ewc/);
  });
  it('gives runCdlCell its options: methods, seed, root, data folder and checkpoints', () => {
    expect(cdlCellRunOptions(cell, '/runs')).toEqual({
      preset: resolveCdlCell(cell), clMethod: 'dualprompt', kdMethods: ['none', 'deit'], seed: 4, root: '/runs', dataRoot: '/d', teacherWeights: '/t.safetensors',
    });
  });
});
