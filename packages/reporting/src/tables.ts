import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigError } from '@promptkd/core';
import { toStorageError, writeFileAtomicSync } from '@promptkd/experiments';

/** A table cell. Numbers are formatted with the column's `digits`; null/undefined print empty; NaN prints `n/a`. */
export type Cell = string | number | null | undefined;

/** A column: a key (for object rows) and optional header, alignment and number of decimals. */
export interface TableColumn {
  readonly key: string;
  readonly header?: string;
  readonly align?: 'left' | 'right' | 'center';
  /** Decimals for numbers in this column (default: the table's `digits`, else 2). */
  readonly digits?: number;
}

/** A results table; rows are arrays (in column order) or objects keyed by column key. */
export interface Table {
  readonly title: string;
  readonly columns: ReadonlyArray<string | TableColumn>;
  readonly rows: ReadonlyArray<ReadonlyArray<Cell> | Readonly<Record<string, Cell>>>;
  /** Lines printed under the markdown table (legend, deviations, commands). */
  readonly notes?: readonly string[];
  readonly digits?: number;
}

const col = (c: string | TableColumn): TableColumn => (typeof c === 'string' ? { key: c } : c);

function cellsOf(table: Table): { columns: TableColumn[]; rows: Cell[][] } {
  const columns = table.columns.map(col);
  const rows = table.rows.map((r, i) => {
    if (Array.isArray(r)) {
      if (r.length !== columns.length) {
        throw new ConfigError(`Table '${table.title}': row ${i} has ${r.length} cells for ${columns.length} columns.`, { field: `rows.${i}` });
      }
      return [...(r as Cell[])];
    }
    return columns.map((c) => (r as Record<string, Cell>)[c.key]);
  });
  return { columns, rows };
}

function formatCell(v: Cell, digits: number): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return 'n/a';
    if (!Number.isFinite(v)) return v > 0 ? 'inf' : '-inf';
    return Number.isInteger(v) ? String(v) : v.toFixed(digits);
  }
  return v;
}

/** Renders a GitHub-flavoured markdown table with a `### title` heading and notes. */
export function renderMarkdown(table: Table): string {
  const { columns, rows } = cellsOf(table);
  const esc = (s: string): string => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');
  const header = `| ${columns.map((c) => esc(c.header ?? c.key)).join(' | ')} |`;
  const rule = `|${columns.map((c) => (c.align === 'right' ? ' ---: ' : c.align === 'center' ? ' :---: ' : ' --- ')).join('|')}|`;
  const body = rows.map((r) => `| ${r.map((v, j) => esc(formatCell(v, columns[j]?.digits ?? table.digits ?? 2))).join(' | ')} |`);
  const notes = table.notes?.length ? `\n${table.notes.join('\n\n')}\n` : '';
  return `### ${table.title}\n\n${[header, rule, ...body].join('\n')}\n${notes}`;
}

/** Renders RFC 4180 CSV (header row = column headers; numbers at full precision). */
export function renderCsv(table: Table): string {
  const { columns, rows } = cellsOf(table);
  const q = (s: string): string => (/[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const fmt = (v: Cell): string => (v === null || v === undefined ? '' : typeof v === 'number' ? (Number.isNaN(v) ? 'NaN' : String(v)) : v);
  return [columns.map((c) => q(c.header ?? c.key)), ...rows.map((r) => r.map((v) => q(fmt(v))))].map((r) => r.join(',')).join('\r\n') + '\r\n';
}

/** `Table 1: Acc. (%)` → `table-1-acc`. */
export function slugify(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-+|-+$/g, '').slice(0, 80) || 'table';
}

/**
 * Writes a table as markdown and CSV. `target` is a run folder (object or directory with `config.json`) →
 * `tables/<name>.md|csv`; another existing directory → `<dir>/<name>.md|csv`; otherwise a path stem
 * (`out/table1` or `out/table1.md`). `name` defaults to the slugified title. Returns both paths.
 */
export function writeTable(
  target: string | { readonly paths: { readonly tables: string } },
  table: Table,
  options: { name?: string } = {},
): { markdown: string; csv: string } {
  const name = options.name ?? slugify(table.title);
  let stem: string;
  if (typeof target !== 'string') stem = path.join(target.paths.tables, name);
  else if (fs.existsSync(path.join(target, 'config.json'))) stem = path.join(target, 'tables', name);
  else if (fs.existsSync(target) && fs.statSync(target).isDirectory()) stem = path.join(target, name);
  else stem = target.replace(/\.(md|csv)$/i, '');
  const dir = path.dirname(stem);
  try {
    fs.mkdirSync(dir, { recursive: true });
  } catch (err) {
    throw toStorageError(err, dir, 'table directory');
  }
  const markdown = `${stem}.md`;
  const csv = `${stem}.csv`;
  writeFileAtomicSync(markdown, renderMarkdown(table));
  writeFileAtomicSync(csv, renderCsv(table));
  return { markdown, csv };
}

/** Mean and sample standard deviation (n − 1; 0 for a single value). */
export interface MeanStd {
  readonly mean: number;
  readonly std: number;
  readonly n: number;
}

/** {@link MeanStd} of `values` (e.g. one metric over seeds). Empty input gives NaN mean. */
export function meanStd(values: readonly number[]): MeanStd {
  const n = values.length;
  if (n === 0) return { mean: Number.NaN, std: Number.NaN, n };
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const std = n > 1 ? Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1)) : 0;
  return { mean, std, n };
}

/**
 * Formats `mean ± std` over seeds, e.g. `72.1 ± 1.3`. `scale` multiplies first (100 for accuracies stored
 * in [0,1]). One value prints without `± `; none prints `empty` (default `n/a`; `''` for an empty table cell).
 */
export function formatMeanStd(values: readonly number[] | MeanStd, options: { digits?: number; scale?: number; empty?: string } = {}): string {
  const s = Array.isArray(values) ? meanStd(values as readonly number[]) : (values as MeanStd);
  const k = options.scale ?? 1;
  const d = options.digits ?? 1;
  if (s.n === 0) return options.empty ?? 'n/a';
  return s.n === 1 ? (s.mean * k).toFixed(d) : `${(s.mean * k).toFixed(d)} ± ${(s.std * k).toFixed(d)}`;
}

/** Values keyed by seed (`{0: 71.2, 1: 70.8}` or a Map), or an array where the index is the seed. */
export type BySeed = ReadonlyMap<string | number, number> | Readonly<Record<string, number>> | readonly number[];

/** A paired-by-seed comparison `a − b`. */
export interface PairedDifference {
  /** Seeds present in both, in order. */
  readonly seeds: readonly string[];
  readonly n: number;
  /** Per-seed differences a − b. */
  readonly diffs: readonly number[];
  /** Mean difference. */
  readonly mean: number;
  /** Sample std of the per-seed differences (the seed spread of the difference). */
  readonly std: number;
  /** Standard error of the mean difference, std / √n. */
  readonly se: number;
  /** |mean| > std: the difference exceeds the seed-to-seed spread (the rule the KDP table reports). */
  readonly exceedsSpread: boolean;
  /** |mean| > 2·se: a rough 95% criterion (paired t with n ≥ 5). */
  readonly exceedsTwoSe: boolean;
}

function toEntries(v: BySeed): [string, number][] {
  if (v instanceof Map) return [...v.entries()].map(([k, x]) => [String(k), x]);
  if (Array.isArray(v)) return (v as readonly number[]).map((x, i) => [String(i), x]);
  return Object.entries(v as Record<string, number>);
}

/**
 * Pairs two methods' results by seed (same prompt init and batch order per seed) and summarises a − b.
 * Throws {@link ConfigError} when the seed sets differ.
 */
export function pairedDifference(a: BySeed, b: BySeed): PairedDifference {
  const ea = new Map(toEntries(a));
  const eb = new Map(toEntries(b));
  const onlyA = [...ea.keys()].filter((k) => !eb.has(k));
  const onlyB = [...eb.keys()].filter((k) => !ea.has(k));
  if (onlyA.length || onlyB.length) {
    throw new ConfigError(
      `Paired comparison needs the same seeds on both sides; ${onlyA.length ? `only in the first: ${onlyA.join(', ')}` : ''}` +
        `${onlyA.length && onlyB.length ? '; ' : ''}${onlyB.length ? `only in the second: ${onlyB.join(', ')}` : ''}. Run the missing seeds.`,
      { field: 'seeds', onlyA, onlyB },
    );
  }
  const seeds = [...ea.keys()];
  const diffs = seeds.map((s) => (ea.get(s) as number) - (eb.get(s) as number));
  const { mean, std, n } = meanStd(diffs);
  const se = n > 0 ? std / Math.sqrt(n) : Number.NaN;
  return { seeds, n, diffs, mean, std, se, exceedsSpread: n > 1 && Math.abs(mean) > std, exceedsTwoSe: n > 1 && Math.abs(mean) > 2 * se };
}

/** `+4.2 ± 1.1` (mean ± std of the paired difference, signed), with `mark` appended when it exceeds the spread. */
export function formatPairedDifference(d: PairedDifference, options: { digits?: number; scale?: number; mark?: string } = {}): string {
  const k = options.scale ?? 1;
  const digits = options.digits ?? 1;
  if (d.n === 0) return 'n/a';
  const m = d.mean * k;
  const s = `${m >= 0 ? '+' : ''}${m.toFixed(digits)}${d.n > 1 ? ` ± ${(d.std * k).toFixed(digits)}` : ''}`;
  return d.exceedsSpread && options.mark ? `${s} ${options.mark}` : s;
}
