import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRunFolder } from '@promptkd/experiments';
import { claimThresholds, collectCells, kiopTable, recordedClaimThresholds, writeReport } from '../src/report.js';
import type { KiopCellResults as CellResults } from '@promptkd/kiop/node';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiop-report-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

/** A finished cell whose results hold only what the table reads. */
function finish(pair: string, variant: string, seed: number, accB: number, accA = 0.9, preset?: string): void {
  const metrics = { accA, accB, predictedClassesB: 10 * accB };
  const results = {
    host: { dataset: 'mnist', cleanAccuracy: 0.99, weights: 'h' },
    sources: [{ dataset: 'svhn', cleanAccuracy: 0.95, weights: 's' }],
    final: metrics,
    best: { epoch: 0, metrics },
    epochs: [{ epoch: 0, metrics, synthesis: {}, diagnostics: { 'untrained.accB': accB / 2, 'alignment.sourceB': 0.8, 'alignment.hostB': accB, 'separability.sourceB': 0.9, 'separability.hostB': 0.5 } }],
    seconds: 60,
    ...(preset ? { preset } : {}),
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
    // the feature-alignment diagnostics, through the source / the prompted host
    expect(table.rows.map((r) => (r as Record<string, unknown>).alignment)).toEqual(['80.0 / 20.0', '80.0 / 30.0', '80.0 / 40.0', '80.0 / 50.0']);
    expect((table.rows[0] as Record<string, unknown>).separability).toBe('90.0 / 50.0');
  });

  it('writes the mean ± std table over seeds and the claims table next to the results table', async () => {
    for (const [seed, b, bf] of [[0, 0.1, 0.15], [1, 0.3, 0.35]] as const) {
      finish('svhn__mnist', 'vanillaKd', seed, 0.6, 0.2);
      finish('svhn__mnist', 'kiopB', seed, b);
      finish('svhn__mnist', 'kiopBF', seed, bf);
      finish('svhn__mnist', 'realDataRef', seed, 0.3);
    }
    const { markdown } = await writeReport(root, collectCells(root), { claims: claimThresholds.demo });
    for (const name of ['kiop-results', 'kiop-summary', 'kiop-claims']) expect(fs.existsSync(path.join(root, `${name}.md`))).toBe(true);
    const summary = fs.readFileSync(path.join(root, 'kiop-summary.csv'), 'utf8');
    // Acc.B of KiOP-B over seeds 0 and 1: 20.0 ± 14.1 (sample std); rows in the registry's order
    expect(summary).toContain('20.0 ± 14.1');
    expect(summary.indexOf('Vanilla-KD')).toBeLessThan(summary.indexOf('KiOP-B'));
    // K3 at the demo's 20 %: seed 0 not reached (10.0 / 15.0), seed 1 holds, the mean (20.0 / 25.0) holds
    const k3 = markdown.split('\n').filter((l) => l.includes('| K3 |'));
    expect(k3.map((l) => l.includes('| holds |'))).toEqual([false, true, true]);
    expect(k3[0]).toContain('10.0 / 15.0 ≥ 20.0');
  });

  it("takes the claims' thresholds from the preset the cells recorded, and writes none when they record none or several", async () => {
    finish('svhn__mnist', 'kiopB', 0, 0.25, 0.9, 'demo');
    finish('svhn__mnist', 'kiopBF', 0, 0.25, 0.9, 'demo');
    expect(recordedClaimThresholds(collectCells(root))).toEqual(claimThresholds.demo);
    const { markdown } = await writeReport(root, collectCells(root));
    // 25 % holds at the demo's 20 % (it would not at cpu's 30 %)
    expect(markdown.split('\n').find((l) => l.includes('| K3 |'))).toContain('| holds |');
    finish('svhn__mnist', 'realDataRef', 0, 0.3, 0.9, 'cpu');
    expect(recordedClaimThresholds(collectCells(root))).toBeUndefined();
    finish('svhn__mnist', 'realDataRef', 0, 0.3, 0.9, 'nonsense');
    expect(recordedClaimThresholds(collectCells(root))).toBeUndefined();
  });
});
