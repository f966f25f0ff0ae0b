import { describe, expect, it } from 'vitest';
import { buildPresetNetwork, participantPresets, participantPresetSchema, pretrainRecipe } from '@promptkd/kiop';

describe('participantPresets', () => {
  it('every preset is valid data', () => {
    for (const [name, preset] of Object.entries(participantPresets)) {
      expect(participantPresetSchema.parse(preset), name).toEqual(preset);
    }
    expect(() => participantPresetSchema.parse({ ...participantPresets.smoke, pretrain: { ...participantPresets.smoke.pretrain, augment: 'flip' } })).toThrow();
  });

  it('pretrainRecipe applies the per-dataset changes of the preset', () => {
    expect(pretrainRecipe(participantPresets.demo, 'mnist')).toEqual({ epochs: 15, batchSize: 64, lr: 0.05, weightDecay: 5e-4, augment: 'crop' });
    expect(pretrainRecipe(participantPresets.demo, 'fashionMnist')).toEqual(participantPresets.demo.pretrain);
    expect(pretrainRecipe(participantPresets.paper, 'mnist')).toEqual(participantPresets.paper.pretrain);
  });

  it('buildPresetNetwork builds the preset architecture with the asked number of classes, seeded', () => {
    const a = buildPresetNetwork(participantPresets.smoke, 7, 1);
    const b = buildPresetNetwork(participantPresets.smoke, 7, 1);
    try {
      expect(a.name).toBe('bnCnn');
      expect(a.numClasses).toBe(7);
      const [name, va] = [...a.namedVariables()][0]!;
      expect([...b.namedVariables().get(name)!.dataSync()]).toEqual([...va.dataSync()]);
    } finally {
      a.dispose();
      b.dispose();
    }
  });
});
