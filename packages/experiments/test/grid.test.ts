import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, NonFiniteError } from '@promptkd/core';
import { type GridCell, createRunFolder, runGrid } from '@promptkd/experiments';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'pkd-grid-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

type Cfg = { method: string; seed: number };
const cells: GridCell<Cfg>[] = ['kd', 'kdp'].flatMap((method) => [0, 1, 2].map((seed) => ({ id: `${method}__s${seed}`, config: { method, seed } })));

describe('runGrid', () => {
  it('runs every cell in order, writes results, and resumes by skipping finished cells', async () => {
    const calls: string[] = [];
    let failOn: string | undefined = 'kdp__s1';
    const runCell = async (cell: GridCell<Cfg>, ctx: { runDir: string | undefined; index: number; total: number }) => {
      calls.push(cell.id);
      expect(ctx.runDir).toBe(path.join(root, cell.id));
      expect(ctx.total).toBe(6);
      if (cell.id === failOn) throw new NonFiniteError('loss is NaN');
      const run = createRunFolder(root, { name: cell.id, config: cell.config, seed: cell.config.seed });
      const result = { acc: cell.config.seed + (cell.config.method === 'kdp' ? 10 : 0) };
      run.writeResults(result);
      return result;
    };
    // First attempt: a failure stops the grid (no new cells start) and re-throws the original error.
    await expect(runGrid(cells, runCell, { root })).rejects.toBeInstanceOf(NonFiniteError);
    expect(calls).toEqual(['kd__s0', 'kd__s1', 'kd__s2', 'kdp__s0', 'kdp__s1']);

    // Resume: finished cells are skipped with their stored results, the rest run.
    calls.length = 0;
    failOn = undefined;
    const seen: string[] = [];
    const outcomes = await runGrid(cells, runCell, { root, onOutcome: (o) => seen.push(`${o.cell.id}:${o.status}`) });
    expect(calls).toEqual(['kdp__s1', 'kdp__s2']);
    expect(outcomes.map((o) => o.status)).toEqual(['skipped', 'skipped', 'skipped', 'skipped', 'done', 'done']);
    expect(outcomes.map((o) => (o.result as { acc: number }).acc)).toEqual([0, 1, 2, 10, 11, 12]);
    expect(seen).toHaveLength(6);

    // A corrupt results file means "run again", with a warning.
    fs.writeFileSync(path.join(root, 'kd__s0', 'results.json'), '{"trunc');
    calls.length = 0;
    const warnings: string[] = [];
    await runGrid(cells, runCell, { root, warn: (m) => warnings.push(m) });
    expect(calls).toEqual(['kd__s0']);
    expect(warnings[0]).toContain("'kd__s0'");
  });

  it('continueOnError collects failures; concurrency runs cells in parallel; ids are validated', async () => {
    let running = 0;
    let peak = 0;
    const outcomes = await runGrid(
      cells,
      async (cell) => {
        running++;
        peak = Math.max(peak, running);
        await new Promise((r) => setTimeout(r, 5));
        running--;
        if (cell.config.seed === 1) throw new Error(`boom ${cell.id}`);
        return cell.config.seed;
      },
      { concurrency: 3, continueOnError: true },
    );
    expect(peak).toBe(3);
    expect(outcomes.map((o) => o.status)).toEqual(['done', 'failed', 'done', 'done', 'failed', 'done']);
    expect((outcomes[1]?.error as Error).message).toBe('boom kd__s1');
    await expect(runGrid([cells[0]!, cells[0]!], async () => 1)).rejects.toThrow(/appears twice/);
    await expect(runGrid([{ id: '../x', config: {} }], async () => 1)).rejects.toBeInstanceOf(ConfigError);
  });
});
