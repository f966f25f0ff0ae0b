import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { kdLossRegistry } from '@promptkd/kd-losses';

const README = fileURLToPath(new URL('../README.md', import.meta.url));
const START = '<!-- registry-table:start -->';
const END = '<!-- registry-table:end -->';

describe('README registry table', () => {
  it('matches kdLossRegistry.markdownTable()', () => {
    const text = readFileSync(README, 'utf8');
    const [head, rest] = text.split(START);
    const tail = rest?.split(END)[1];
    if (head === undefined || tail === undefined) throw new Error(`README.md needs the markers ${START} and ${END}`);
    const expected = `${head}${START}\n${kdLossRegistry.markdownTable()}\n${END}${tail}`;
    if (process.env.UPDATE_README === '1') writeFileSync(README, expected);
    expect(text, 'README registry table is stale: run UPDATE_README=1 npx vitest run packages/kd-losses/test/readme.test.ts').toBe(
      process.env.UPDATE_README === '1' ? text : expected,
    );
  });
});
