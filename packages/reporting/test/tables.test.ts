import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import { createRunFolder } from '@promptkd/experiments';
import {
  formatMeanStd,
  formatPairedDifference,
  meanStd,
  pairedDifference,
  renderCsv,
  renderMarkdown,
  writeTable,
} from '@promptkd/reporting';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'pkd-tab-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const table = {
  title: 'Table 1: Acc (%)',
  columns: ['method', { key: 'accA', header: 'Acc.A', align: 'right' as const, digits: 1 }, { key: 'note', header: 'Note' }],
  rows: [
    { method: 'KiOP-B', accA: 97.456, note: 'a|b' },
    ['Vanilla, KD', Number.NaN, 'say "hi"'],
    { method: 'KiOP-BF', accA: 12, note: null },
  ],
  notes: ['Mean of 1 seed.'],
};

describe('tables', () => {
  it('renders markdown with alignment, escaping and number formatting', () => {
    expect(renderMarkdown(table)).toBe(
      '### Table 1: Acc (%)\n\n| method | Acc.A | Note |\n| --- | ---: | --- |\n| KiOP-B | 97.5 | a\\|b |\n| Vanilla, KD | n/a | say "hi" |\n| KiOP-BF | 12 |  |\n\nMean of 1 seed.\n',
    );
  });

  it('renders RFC 4180 CSV at full precision', () => {
    expect(renderCsv(table)).toBe('method,Acc.A,Note\r\nKiOP-B,97.456,a|b\r\n"Vanilla, KD",NaN,"say ""hi"""\r\nKiOP-BF,12,\r\n');
  });

  it('writes into a run folder, a directory or a path stem', () => {
    const run = createRunFolder(root, { name: 'r', config: {} });
    const a = writeTable(run, table);
    expect(a.markdown).toBe(path.join(run.dir, 'tables', 'table-1-acc.md'));
    expect(fs.readFileSync(a.csv, 'utf8')).toBe(renderCsv(table));
    expect(writeTable(run.dir, table, { name: 'x' }).csv).toBe(path.join(run.dir, 'tables', 'x.csv'));
    expect(writeTable(root, table).markdown).toBe(path.join(root, 'table-1-acc.md'));
    const c = writeTable(path.join(root, 'out', 'kdp.md'), table);
    expect([c.markdown, c.csv]).toEqual([path.join(root, 'out', 'kdp.md'), path.join(root, 'out', 'kdp.csv')]);
    expect(fs.existsSync(c.csv)).toBe(true);
    expect(() => writeTable(root, { title: 't', columns: ['a', 'b'], rows: [[1]] })).toThrow(ConfigError);
  });
});

describe('seed statistics', () => {
  it('mean ± sample std', () => {
    const s = meanStd([1, 2, 3, 4]);
    expect(s.mean).toBe(2.5);
    expect(s.std).toBeCloseTo(Math.sqrt(5 / 3), 12);
    expect(formatMeanStd([0.701, 0.712, 0.69], { scale: 100 })).toBe('70.1 ± 1.1');
    expect(formatMeanStd([70])).toBe('70.0');
    expect(formatMeanStd([])).toBe('n/a');
    expect(formatMeanStd([], { empty: '' })).toBe('');
    expect(formatMeanStd([0.5], { scale: 100, digits: 2, empty: '' })).toBe('50.00');
  });

  it('paired differences by seed: mean, std, and whether they exceed the spread', () => {
    // Method a beats b by ~2 on every seed although both vary by ~10 across seeds.
    const a = { 0: 60, 1: 72, 2: 55, 3: 66, 4: 70 };
    const b = { 0: 58, 1: 70.5, 2: 52.5, 3: 64, 4: 68 };
    const d = pairedDifference(a, b);
    expect(d.seeds).toEqual(['0', '1', '2', '3', '4']);
    expect(d.diffs).toEqual([2, 1.5, 2.5, 2, 2]);
    expect(d.mean).toBeCloseTo(2, 12);
    expect(d.std).toBeCloseTo(Math.sqrt(0.125), 12);
    expect(d.exceedsSpread).toBe(true);
    expect(d.exceedsTwoSe).toBe(true);
    expect(formatPairedDifference(d, { mark: '*' })).toBe('+2.0 ± 0.4 *');
    // Unpaired std of a is ~7: the same data compared unpaired would look like noise.
    expect(meanStd(Object.values(a)).std).toBeGreaterThan(6);
    const noisy = pairedDifference([1, -2, 3], new Map([[0, 0], [1, 0], [2, 0]]));
    expect(noisy.exceedsSpread).toBe(false);
    expect(formatPairedDifference(noisy, { mark: '*' })).toBe('+0.7 ± 2.5');
    expect(() => pairedDifference({ 0: 1, 1: 2 }, { 0: 1, 2: 2 })).toThrow(/only in the first: 1; only in the second: 2/);
  });
});
