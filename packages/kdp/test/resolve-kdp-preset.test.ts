import { describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import { datasetRegistry } from '@promptkd/datasets/node';
import {
  cdlSplitOf,
  kdpPresets,
  kdpRunPresets,
  kdpRunPresetSchema,
  parseCdlSplit,
  resolveKdpPreset,
  validateKdpPreset,
  vitShapeOf,
} from '@promptkd/kdp/node';

const PRESET_NAMES = Object.keys(kdpRunPresets);

describe('kdpRunPresets', () => {
  it('are the library presets, the CPU ones with an in-app pretraining recipe (weight decay 0), all valid', () => {
    expect(PRESET_NAMES).toEqual(Object.keys(kdpPresets));
    expect(kdpRunPresets.paper).toEqual(kdpPresets.paper);
    expect(kdpRunPresets.paper.pretraining).toBeUndefined();
    expect(kdpRunPresets.cpu).toEqual({ ...kdpPresets.cpu, pretraining: { images: 10000, epochs: 3, lr: 1e-3, weightDecay: 0, batchSize: 64 } });
    for (const name of ['cpu', 'demo', 'smoke'] as const) expect(kdpRunPresets[name].pretraining?.weightDecay, name).toBe(0);
    for (const [name, p] of Object.entries(kdpRunPresets)) expect(validateKdpPreset(kdpRunPresetSchema.parse(p)), name).toEqual(p);
  });
});

describe('parseCdlSplit / cdlSplitOf', () => {
  it('reads <tasks>x<classes> and writes a preset split the same way', () => {
    expect(parseCdlSplit('5x2')).toEqual({ numTasks: 5, classesPerTask: 2 });
    expect(() => parseCdlSplit('0x5')).toThrow(ConfigError);
    expect(() => parseCdlSplit('2by5')).toThrow(expect.objectContaining({ details: { field: 'split' } }));
    expect(cdlSplitOf(kdpPresets.cpu)).toBe('5x2');
    expect(cdlSplitOf(kdpPresets.demo)).toBe('2x5');
  });
});

describe('resolveKdpPreset', () => {
  it('rejects bad presets, splits and overrides with a ConfigError naming the field', () => {
    expect(() => resolveKdpPreset({ preset: 'nope' })).toThrow(/Valid: paper/);
    expect(() => resolveKdpPreset({ preset: 'cpu', split: '2by5' })).toThrow(ConfigError);
    expect(() => resolveKdpPreset({ preset: 'cpu', split: '20x5' })).not.toThrow(); // checked against the dataset when loading
    expect(() => resolveKdpPreset({ preset: 'cpu', overrides: ['training.epochz=3'] })).toThrow(/epochz/);
    expect(() => resolveKdpPreset({ preset: 'cpu', overrides: ['kd.kdLayers=9'] })).toThrow(/kd.kdLayers/);
    const p = resolveKdpPreset({ preset: 'cpu', split: '5x2', overrides: ['data.trainPerClass=300', 'training.epochs=5'] });
    expect(p.data).toMatchObject({ numTasks: 5, classesPerTask: 2, trainPerClass: 300, dataset: 'fashionMnist' });
    expect(p.training.epochs).toBe(5);
    expect(resolveKdpPreset({ preset: 'paper' }).data.dataset).toBe('cifar100');
    // one set of dataset keys: every preset names a @promptkd/datasets source
    for (const name of PRESET_NAMES) expect(datasetRegistry.has(resolveKdpPreset({ preset: name }).data.dataset), name).toBe(true);
  });

  it('applies the dataset and backbone shapes (`preset` keeps the preset\'s), before the overrides', () => {
    const p = resolveKdpPreset({ preset: 'paper', dataset: 'imagenetR', teacher: 'vitLarge', student: 'preset', overrides: ['teacher.depth=13'] });
    expect(p.data.dataset).toBe('imagenetR');
    expect(p.teacher).toEqual({ ...vitShapeOf('vitLarge'), depth: 13 });
    expect(p.student).toEqual(kdpPresets.paper.student);
    expect(p.pretraining).toBeUndefined();
    expect(resolveKdpPreset({ preset: 'smoke' })).toEqual(kdpRunPresets.smoke);
    expect(() => resolveKdpPreset({ preset: 'paper', student: 'vitHuge' })).toThrow(/Unknown ViT shape 'vitHuge'/);
  });
});
