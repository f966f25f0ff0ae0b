import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { writeIdx } from './idx-fixture.js';
import { collectCdlRuns as collectCells, kdMethodRegistry, type CdlCellResults as CellResults } from '@promptkd/kdp/node';
import { kdpCommand } from '../src/index.js';

const KD_ORDER = kdMethodRegistry.ordered();

let work: string;
const oldModels = process.env.PROMPTKD_MODELS;
const oldProgress = process.env.PROMPTKD_PROGRESS;
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'kdp-bench-'));
  writeIdx(work, 'train', 16);
  writeIdx(work, 't10k', 4);
  process.env.PROMPTKD_MODELS = join(work, 'models');
  process.env.PROMPTKD_PROGRESS = 'silent';
});
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  if (oldModels === undefined) delete process.env.PROMPTKD_MODELS;
  else process.env.PROMPTKD_MODELS = oldModels;
  if (oldProgress === undefined) delete process.env.PROMPTKD_PROGRESS;
  else process.env.PROMPTKD_PROGRESS = oldProgress;
});

async function cli(args: string[]): Promise<string> {
  const chunks: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const writeErr = process.stderr.write.bind(process.stderr);
  process.stdout.write = ((c: string | Uint8Array) => (chunks.push(String(c)), true)) as typeof process.stdout.write;
  process.stderr.write = (() => true) as typeof process.stderr.write;
  try {
    await kdpCommand(async () => undefined).exitOverride().parseAsync(args, { from: 'user' });
  } finally {
    process.stdout.write = write;
    process.stderr.write = writeErr;
  }
  return chunks.join('');
}

describe('promptkd kdp run (smoke preset, end to end)', () => {
  it('runs CODA-P with every KD method sharing one teacher, writes results.json, resumes, and tabulates', async () => {
    const out = join(work, 'runs');
    const args = ['run', '--preset', 'smoke', '--data-root', work, '--cl', 'coda', '--kd', KD_ORDER.join(','), '--seed', '3', '--out', out];
    const printed = JSON.parse(await cli(args)) as Record<string, { acc: number; fgt: number; teacherAcc?: number }>;
    expect(Object.keys(printed).sort()).toEqual([...KD_ORDER].sort());
    const cells = collectCells(out);
    expect(cells.map((c) => c.results.kdMethod).sort()).toEqual([...KD_ORDER].sort());
    const teacherAcc = new Set<number>();
    for (const { dir, results } of cells) {
      const r: CellResults = results;
      expect(r.student.accuracy.map((row) => row.length)).toEqual([1, 2]); // 2 tasks: lower-triangular accuracy matrix
      expect(r.student.summary.finalAccuracy).toBeGreaterThanOrEqual(0);
      expect(r.student.summary.finalAccuracy).toBeLessThanOrEqual(1);
      expect(r.images).toEqual({ pool: 40, train: 32, test: 16 }); // pool 4/class; stream 8/class × 4 classes; test 4/class
      expect(r.teacher?.accuracy.length).toBe(2); // the teacher ran (also recorded for student alone)
      teacherAcc.add(r.teacher?.summary.finalAccuracy as number);
      expect(existsSync(join(dir, 'metrics.jsonl'))).toBe(true);
      expect(r.backbones.student.weights).toContain(join(work, 'models'));
    }
    expect(teacherAcc.size).toBe(1); // one teacher run shared by every KD method of the seed
    // Resume: a second identical run finds every results.json and trains nothing.
    const file = join(cells[0]?.dir as string, 'results.json');
    const before = statSync(file).mtimeMs;
    await cli(args);
    expect(statSync(file).mtimeMs).toBe(before);
    const table = await cli(['table', out]);
    expect(table).toContain('| KDP |');
    expect(table).toContain('CODA-P Acc (%)');
    expect(table).toContain('teacher alone');
    expect(table).toContain('k − teacher just-learned (pts)'); // heads table: g, k, prediction, teacher
    expect(table).toContain('| KDP α = 0 (control) |');
    expect(existsSync(join(out, 'kdp-fashionMnist-2x2-t24-s16.md'))).toBe(true);
    expect(readFileSync(join(out, 'kdp-fashionMnist-2x2-t24-s16-paired.csv'), 'utf8')).toContain('KDP − DeiT token');
    // `kdp grid` on the same folder (split: the preset's) finds every KD run finished, starts nothing, and reports.
    const gridOut = await cli(['grid', '--preset', 'smoke', '--data-root', work, '--cl', 'coda', '--kd', KD_ORDER.join(','), '--seeds', '3', '--out', out]);
    expect(gridOut).toContain('| KDP |');
    expect(gridOut).toMatch(/\nwall time: \d+\.\d min\n$/);
    expect(statSync(file).mtimeMs).toBe(before);

    // Checkpoints given on the command line (timm-named safetensors; here the cached in-app ones) replace pretraining.
    const teacherFile = cells[0]?.results.backbones.teacher.weights as string;
    const studentFile = cells[0]?.results.backbones.student.weights as string;
    const out2 = join(work, 'runs-weights');
    await cli(['run', '--preset', 'smoke', '--data-root', work, '--kd', 'none,kdp', '--teacher-weights', teacherFile, '--student-weights', studentFile, '--out', out2]);
    const withWeights = collectCells(out2);
    expect(withWeights.map((c) => [c.results.kdMethod, c.results.backbones.teacher.weights, c.results.images.pool])).toEqual([
      ['none', teacherFile, 0],
      ['kdp', teacherFile, 0],
    ]);
  }, 300_000); // every KD method, with per-task checkpoints; minutes on a loaded 2-core machine
});
