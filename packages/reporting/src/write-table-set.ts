import { renderMarkdown, writeTable, type Table } from './tables.js';

/** A table and the file name ({@link writeTable}'s `name`, without extension) it is written under. */
export interface NamedTable {
  readonly table: Table;
  readonly name: string;
}

/**
 * Writes several tables into one place — each as `<name>.md` and `<name>.csv` by {@link writeTable} (a run folder's
 * `tables/`, a directory) — and returns them, in order, as one markdown document (each {@link renderMarkdown}, joined
 * by a newline), e.g. to print a grid's report.
 *
 * @example
 * ```ts
 * const { markdown } = writeTableSet('runs/grid', [{ table: accTable, name: 'acc' }, { table: pairedTable, name: 'acc-paired' }]);
 * process.stdout.write(`${markdown}\n`);
 * ```
 */
export function writeTableSet(target: string | { readonly paths: { readonly tables: string } }, tables: readonly NamedTable[]): { markdown: string } {
  for (const { table, name } of tables) writeTable(target, table, { name });
  return { markdown: tables.map(({ table }) => renderMarkdown(table)).join('\n') };
}
