import { formatError } from './format-error.js';

/** Parses a small delimiter-separated table with a header row (no quoting; GTSRB's `;` files). */
export function parseDelimited(bytes: Uint8Array, file: string, delimiter = ';'): { header: string[]; rows: string[][] } {
  const text = new TextDecoder().decode(bytes).replace(/^\uFEFF/, '');
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const first = lines[0];
  if (first === undefined) throw formatError(file, 'is empty (expected a header row)');
  const header = first.split(delimiter).map((h) => h.trim());
  const rows = lines.slice(1).map((l, i) => {
    const cells = l.split(delimiter).map((c) => c.trim());
    if (cells.length !== header.length) {
      throw formatError(file, `row ${i + 2} has ${cells.length} fields, the header has ${header.length}`);
    }
    return cells;
  });
  return { header, rows };
}

/** Index of a named column, or a DataFormatError naming the file and the columns found. */
export function column(header: readonly string[], name: string, file: string): number {
  const i = header.indexOf(name);
  if (i < 0) throw formatError(file, `has no '${name}' column (columns: ${header.join(', ')})`);
  return i;
}
