import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRunFolder } from '@promptkd/experiments';
import { collectCells, kiopTable } from '../src/report.js';
import type { KiopCellResults as CellResults } from '@promptkd/kiop/node';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiop-report-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** A finished cell whose results hold only what the table reads. */
function finish(pair: string, variant: string, seed: number, accB: number): void {
  const metrics = { accA: 0.9, accB, predictedClassesB: 10 * accB };
  const results = {
    host: { dataset: 'mnist', cleanAccuracy: 0.99, weights: 'h' },
    sources: [{ dataset: 'svhn', cleanAccuracy: 0.95, weights: 's' }],
    final: metrics,
    best: { epoch: 0, metrics },
    epochs: [{ epoch: 0, metrics, synthesis: {}, diagnostics: { 'untrained.accB': accB / 2 } }],
    seconds: 60,
  } as unknown as CellResults;
  createRunFolder(root, { name: `${pair}/${variant}__s${seed}`, config: {}, seed }).writeResults(results);
}

describe('kiop-bench report', () => {
  it('collects cells by pair, then the variants registry order, then seed, and labels rows from the registry', () => {
    finish('svhn__mnist', 'kiopBF', 1, 0.5);
    finish('svhn__mnist', 'vanillaKd', 0, 0.2);
    finish('svhn__mnist', 'kiopBF', 0, 0.4);
    finish('svhn__mnist', 'kiopT', 0, 0.3);
    fs.mkdirSync(path.join(root, 'svhn__mnist', 'figures'), { recursive: true }); // not a cell
    const cells = collectCells(root);
    expect(cells.map((c) => `${c.variant}/${c.seed}`)).toEqual(['vanillaKd/0', 'kiopT/0', 'kiopBF/0', 'kiopBF/1']);
    const table = kiopTable(cells);
    expect(table.rows.map((r) => (r as Record<string, unknown>).method)).toEqual(['Vanilla-KD', 'KiOP-T', 'KiOP-BF', 'KiOP-BF']);
    expect(table.rows.map((r) => (r as Record<string, unknown>).accB)).toEqual(['20.00', '30.00', '40.00', '50.00']);
    // the untrained prompt's Acc.B (epoch 0) and the effective number of predicted classes (final epoch)
    expect(table.rows.map((r) => (r as Record<string, unknown>).untrainedAccB)).toEqual(['10.00', '15.00', '20.00', '25.00']);
    expect(table.rows.map((r) => (r as Record<string, unknown>).predictedClasses)).toEqual(['2.0', '3.0', '4.0', '5.0']);
  });
});
