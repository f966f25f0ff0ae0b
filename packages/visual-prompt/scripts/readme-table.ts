/**
 * Regenerates the prompt-type table in packages/visual-prompt/README.md from `promptRegistry.markdownTable()`.
 *   npx tsx --conditions=@promptkd/source packages/visual-prompt/scripts/readme-table.ts          # rewrite
 *   npx tsx --conditions=@promptkd/source packages/visual-prompt/scripts/readme-table.ts --check  # exit 1 if stale
 * The table sits between `<!-- prompt-types:start -->` and `<!-- prompt-types:end -->`.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export const START = '<!-- prompt-types:start -->';
export const END = '<!-- prompt-types:end -->';

/** The text between the markers (trimmed), or undefined when the markers are missing. */
export function extractTable(readme: string): string | undefined {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) return undefined;
  return readme.slice(a + START.length, b).trim();
}

/** `readme` with the table between the markers replaced. */
export function replaceTable(readme: string, table: string): string {
  const a = readme.indexOf(START);
  const b = readme.indexOf(END);
  if (a < 0 || b < a) throw new Error(`README is missing the ${START} … ${END} markers.`);
  return `${readme.slice(0, a + START.length)}\n${table}\n${readme.slice(b)}`;
}

async function main(): Promise<void> {
  const { promptRegistry } = await import('@promptkd/visual-prompt');
  const path = fileURLToPath(new URL('../README.md', import.meta.url));
  const readme = readFileSync(path, 'utf8');
  const table = promptRegistry.markdownTable();
  if (process.argv.includes('--check')) {
    if (extractTable(readme) !== table) {
      console.error('packages/visual-prompt/README.md prompt table is stale; run scripts/readme-table.ts.');
      process.exit(1);
    }
    return;
  }
  writeFileSync(path, replaceTable(readme, table));
  console.log('updated', path);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await main();
