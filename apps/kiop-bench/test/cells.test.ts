import { describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import { participantPresets } from '@promptkd/kiop';
import { cellArgs, checkCell, resolveCell, type KiopCellSpec } from '../src/cells.js';

const cell: KiopCellSpec = { host: 'mnist', sources: ['fashionMnist'], variant: 'kiopB', preset: 'demo', seed: 0 };

describe('participant overrides of a cell (--participant key=value)', () => {
  it('change the host and source architecture and pretraining, leave the rest of the preset, and travel to child processes', () => {
    const spec = { ...cell, participants: ['archConfig.blocks=[32,64,128,128]', 'pretrain.epochs=2'] };
    const { bench } = resolveCell(spec);
    expect(bench.archConfig).toEqual({ blocks: [32, 64, 128, 128] });
    expect(bench.pretrain).toEqual({ ...participantPresets.demo.pretrain, epochs: 2 });
    expect(bench.testPerClass).toBe(participantPresets.demo.testPerClass);
    expect(resolveCell(cell).bench).toBe(participantPresets.demo); // no overrides: the preset itself
    const args = cellArgs(spec, 'runs');
    expect(args.filter((a, i) => args[i - 1] === '--participant')).toEqual(spec.participants);
  });

  it('refuse an unknown field or a bad value before any work, naming what is valid', () => {
    expect(() => checkCell({ ...cell, participants: ['depth=4'] })).toThrow(/'depth' is not a field of \(root\); fields: arch, archConfig/);
    expect(() => checkCell({ ...cell, participants: ['pretrain.epochs=0'] })).toThrow(ConfigError);
  });
});
