import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { promptRegistry } from '@promptkd/visual-prompt';
import { extractTable } from '../scripts/readme-table.js';

describe('README prompt-type table', () => {
  it('equals the table generated from the registry (run `npx tsx packages/visual-prompt/scripts/readme-table.ts` to update)', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    expect(extractTable(readme)).toBe(promptRegistry.markdownTable());
  });
});
