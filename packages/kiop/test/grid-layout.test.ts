import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createRunFolder } from '@promptkd/experiments';
import { collectKiopCells, kiopCellName } from '@promptkd/kiop/node';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'kiop-grid-layout-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

function finish(name: string, seed: number, accB: number): void {
  const metrics = { accA: 0.9, accB };
  createRunFolder(root, { name, config: {}, seed }).writeResults({ final: metrics, best: { epoch: 0, metrics }, epochs: [] });
}

describe('kiopCellName', () => {
  it('names a cell <host>__<sources joined by +>/<variant>__s<seed>', () => {
    expect(kiopCellName({ host: 'mnist', sources: ['fashionMnist'], variant: 'kiopBF', seed: 0 })).toBe('mnist__fashionMnist/kiopBF__s0');
    expect(kiopCellName({ host: 'cifar10', sources: ['mnist', 'svhn'], variant: 'multiModel', seed: 12 })).toBe('cifar10__mnist+svhn/multiModel__s12');
  });
});

describe('collectKiopCells', () => {
  it('finds finished cells by pair, then the variants registry order, then seed; unfinished cells and other folders are ignored', () => {
    const cell = (pair: string, variant: string, seed: number) => {
      const [host, sources] = pair.split('__') as [string, string];
      return kiopCellName({ host, sources: sources.split('+'), variant, seed });
    };
    finish(cell('svhn__mnist', 'kiopBF', 1), 1, 0.5);
    finish(cell('svhn__mnist', 'vanillaKd', 0), 0, 0.2);
    finish(cell('svhn__mnist', 'kiopBF', 0), 0, 0.4);
    finish(cell('svhn__mnist', 'kiopT', 0), 0, 0.3);
    finish(cell('cifar10__mnist+svhn', 'multiModel', 0), 0, 0.1);
    createRunFolder(root, { name: cell('svhn__mnist', 'kiopB', 0), config: {}, seed: 0 }); // not finished
    fs.mkdirSync(path.join(root, 'svhn__mnist', 'figures'), { recursive: true }); // not a cell
    const cells = collectKiopCells(root);
    expect(cells.map((c) => `${c.pair}/${c.variant}/${c.seed}`)).toEqual([
      'cifar10__mnist+svhn/multiModel/0',
      'svhn__mnist/vanillaKd/0',
      'svhn__mnist/kiopT/0',
      'svhn__mnist/kiopBF/0',
      'svhn__mnist/kiopBF/1',
    ]);
    expect(cells.map((c) => c.results.final.accB)).toEqual([0.1, 0.2, 0.3, 0.4, 0.5]);
    expect(cells[1]!.dir).toBe(path.join(root, 'svhn__mnist', 'vanillaKd__s0'));
    expect(collectKiopCells(path.join(root, 'missing'))).toEqual([]);
  });
});
