import { collectResults } from '@promptkd/experiments';
import { kiopVariantRegistry } from './registry.js';
import type { KiopCellResults } from './run-kiop-cell.js';

/**
 * The run-folder name of a KiOP cell in a grid: `<host>__<source1>+<source2>/<variant>__s<seed>`.
 *
 * @example
 * kiopCellName({ host: 'mnist', sources: ['fashionMnist'], variant: 'kiopBF', seed: 0 }); // 'mnist__fashionMnist/kiopBF__s0'
 */
export function kiopCellName(cell: { readonly host: string; readonly sources: readonly string[]; readonly variant: string; readonly seed: number }): string {
  return `${cell.host}__${cell.sources.join('+')}/${cell.variant}__s${cell.seed}`;
}

/** A finished cell found under a grid root ({@link collectKiopCells}). */
export interface KiopFoundCell {
  /** Its run folder. */
  readonly dir: string;
  /** `<host>__<source1>[+<source2>]`. */
  readonly pair: string;
  readonly variant: string;
  readonly seed: number;
  readonly results: KiopCellResults;
}

const CELL = /^(\w+)__s(-?\d+)$/;

/**
 * Every finished cell (`<pair>/<variant>__s<seed>/results.json`, as {@link kiopCellName} names them) under a grid
 * root: by pair, then the variants' table order ({@link kiopVariantRegistry}), then seed. Other folders are ignored.
 */
export function collectKiopCells(root: string): KiopFoundCell[] {
  const found = collectResults<KiopCellResults>(root, { depth: 2, match: ([, cell]) => CELL.test(cell ?? '') }).map((r) => {
    const [, variant, seed] = CELL.exec(r.segments[1] ?? '') as RegExpExecArray;
    return { dir: r.dir, pair: r.segments[0] ?? '', variant: variant ?? '', seed: Number(seed), results: r.results };
  });
  const order = kiopVariantRegistry.ordered(new Set(found.map((c) => c.variant)));
  return found.sort((a, b) => a.pair.localeCompare(b.pair) || order.indexOf(a.variant) - order.indexOf(b.variant) || a.seed - b.seed);
}
