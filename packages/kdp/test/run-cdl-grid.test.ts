import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cdlGridCells, cdlRunName, resolveCdlCell, runCdlGrid, type CdlCellSpec } from '@promptkd/kdp/node';

// A smoke grid (2 splits × 1 CL method × 2 seeds) through runCdlGrid with a stand-in for `promptkd kdp run`
// (fixtures/fake-cell.mjs): the backbones are prepared once per split, finished KD runs are left out, finished cells
// are not started, a failing cell does not stop the others.

const work = mkdtempSync(join(tmpdir(), 'kdp-run-grid-'));
const fake = fileURLToPath(new URL('./fixtures/fake-cell.mjs', import.meta.url));
const calls = join(work, 'calls.txt');
const old = { models: process.env.PROMPTKD_MODELS, progress: process.env.PROMPTKD_PROGRESS };
const restore = (key: string, v: string | undefined) => (v === undefined ? delete process.env[key] : (process.env[key] = v));
beforeAll(() => {
  process.env.PROMPTKD_MODELS = join(work, 'models');
  process.env.PROMPTKD_PROGRESS = 'silent';
});
afterAll(() => {
  restore('PROMPTKD_MODELS', old.models);
  restore('PROMPTKD_PROGRESS', old.progress);
  rmSync(work, { recursive: true, force: true });
});

const folders = (cell: CdlCellSpec) => cell.kd.map((kd) => cdlRunName(resolveCdlCell(cell), cell.cl, kd, cell.seed));
/** Seed 1 of the 3x2 split fails; every other cell writes its results. */
const command = {
  cli: fake,
  execArgv: [],
  args: (cell: CdlCellSpec, root: string) => [cell.split === '3x2' && cell.seed === 1 ? 'fail' : 'ok', root, calls, ...folders(cell)],
};

describe('runCdlGrid', () => {
  it('prepares the backbones once per split, then runs in child processes only the KD runs without results', async () => {
    const root = join(work, 'grid');
    const cells = cdlGridCells({ preset: 'smoke', kd: ['none', 'kdp'] }, { splits: ['2x2', '3x2'], clMethods: ['coda'], seeds: [0, 1] });
    // 2x2 s0 is finished; 2x2 s1 has KDP done
    const done = (name: string) => {
      mkdirSync(join(root, name), { recursive: true });
      writeFileSync(join(root, name, 'results.json'), '{}');
    };
    for (const kd of ['none', 'kdp']) done(`fashionMnist-2x2-t24-s16/coda/${kd}__s0`);
    done('fashionMnist-2x2-t24-s16/coda/kdp__s1');

    const lines: string[] = [];
    const outcomes = await runCdlGrid({ cells, root, jobs: 2, command, log: (l) => lines.push(l) });
    expect(outcomes.map((o) => [o.cell.id, o.status, o.cell.config.kd])).toEqual([
      ['fashionMnist-3x2-t24-s16/coda/s0', 'done', ['none', 'kdp']],
      ['fashionMnist-2x2-t24-s16/coda/s1', 'done', ['none']],
      ['fashionMnist-3x2-t24-s16/coda/s1', 'failed', ['none', 'kdp']],
    ]);
    expect(String((outcomes[2]?.error as Error).message)).toBe('cell coda/none,kdp/s1 exited with code 1: Error: the fake cell failed');
    expect(readFileSync(calls, 'utf8').trim().split('\n').sort()).toEqual([
      'fashionMnist-2x2-t24-s16/coda/none__s1',
      'fashionMnist-3x2-t24-s16/coda/none__s0 fashionMnist-3x2-t24-s16/coda/kdp__s0',
      'fashionMnist-3x2-t24-s16/coda/none__s1 fashionMnist-3x2-t24-s16/coda/kdp__s1',
    ]);
    expect(existsSync(join(root, 'fashionMnist-3x2-t24-s16/coda/kdp__s0/results.json'))).toBe(true);
    expect(lines).toContain('3 group(s) to run (5 KD runs), 2 at a time');
    expect(lines.some((l) => /^done: 2x2 coda s1 \[none\] in \d+\.\d min$/.test(l))).toBe(true);
    // both splits share one pair of pretrained smoke backbones in the model cache
    expect(readdirSync(join(work, 'models')).filter((f) => f.endsWith('.safetensors'))).toHaveLength(2);

    // everything finished except the failed cell: only it runs again
    writeFileSync(calls, '');
    const again = await runCdlGrid({ cells, root, jobs: 1, command: { ...command, args: (c: CdlCellSpec, r: string) => ['ok', r, calls, ...folders(c)] } });
    expect(again.map((o) => [o.cell.id, o.status])).toEqual([['fashionMnist-3x2-t24-s16/coda/s1', 'done']]);
    expect(readFileSync(calls, 'utf8').trim()).toBe('fashionMnist-3x2-t24-s16/coda/none__s1 fashionMnist-3x2-t24-s16/coda/kdp__s1');
  }, 300_000);
});
