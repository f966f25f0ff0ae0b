import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRunFolder } from '@promptkd/experiments';
import { renderCsv, renderMarkdown, writeTableSet, type Table } from '@promptkd/reporting';

let root: string;
beforeEach(() => void (root = fs.mkdtempSync(path.join(os.tmpdir(), 'pkd-tabset-'))));
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

const a: Table = { title: 'A', columns: ['method', 'acc'], rows: [{ method: 'KD', acc: 71.5 }] };
const b: Table = { title: 'B', columns: ['method', 'fgt'], rows: [{ method: 'KD', fgt: 3.25 }], notes: ['note'] };

describe('writeTableSet', () => {
  it('writes each table as <name>.md and .csv and returns them in order as one markdown document', () => {
    const { markdown } = writeTableSet(root, [{ table: a, name: 'first' }, { table: b, name: 'second' }]);
    expect(markdown).toBe(`${renderMarkdown(a)}\n${renderMarkdown(b)}`);
    expect(fs.readFileSync(path.join(root, 'first.md'), 'utf8')).toBe(renderMarkdown(a));
    expect(fs.readFileSync(path.join(root, 'second.csv'), 'utf8')).toBe(renderCsv(b));
    expect(fs.readdirSync(root).sort()).toEqual(['first.csv', 'first.md', 'second.csv', 'second.md']);
  });

  it("writes into a run folder's tables/, and nothing for no tables", () => {
    const run = createRunFolder(root, { name: 'r', config: {} });
    writeTableSet(run, [{ table: a, name: 'acc' }]);
    expect(fs.existsSync(path.join(run.paths.tables, 'acc.md'))).toBe(true);
    expect(writeTableSet(path.join(root, 'r'), []).markdown).toBe('');
  });
});
