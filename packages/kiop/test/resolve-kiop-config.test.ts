import { describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import { kiopPresets, resolveKiopConfig } from '@promptkd/kiop/node';

describe('resolveKiopConfig', () => {
  it('the preset with the variant and seed, validated', () => {
    expect(resolveKiopConfig({ preset: 'demo', variant: 'kiopBF', seed: 4 })).toEqual({ ...kiopPresets.demo, variant: 'kiopBF', seed: 4 });
  });

  it('applies key.path=value overrides against the schema', () => {
    const c = resolveKiopConfig({ preset: 'smoke', variant: 'kiopT', seed: 0, overrides: ['epochs=3', 'fidelity.hostBnTrainMode=true'] });
    expect(c.epochs).toBe(3);
    expect(c.fidelity.hostBnTrainMode).toBe(true);
    expect(c.kdSteps).toBe(kiopPresets.smoke.kdSteps);
    expect(() => resolveKiopConfig({ preset: 'smoke', variant: 'kiopT', seed: 0, overrides: ['epochs=-1'] })).toThrow(ConfigError);
    expect(() => resolveKiopConfig({ preset: 'smoke', variant: 'kiopT', seed: 0, overrides: ['epochs'] })).toThrow(/key\.path=value/);
  });

  it('the multi-model variant gets one more periphery segment per extra source, 16 px wider each', () => {
    expect(kiopPresets.demo.promptSizes).toEqual([32, 36, 64]);
    expect(resolveKiopConfig({ preset: 'demo', variant: 'multiModel', seed: 0, sources: 2 }).promptSizes).toEqual([32, 36, 64, 80]);
    expect(resolveKiopConfig({ preset: 'demo', variant: 'multiModel', seed: 0, sources: 3 }).promptSizes).toEqual([32, 36, 64, 80, 96]);
    expect(resolveKiopConfig({ preset: 'demo', variant: 'kiopBF', seed: 0, sources: 2 }).promptSizes).toEqual([32, 36, 64]);
  });

  it('an unknown preset or variant is a ConfigError that lists the valid ones', () => {
    expect(() => resolveKiopConfig({ preset: 'huge', variant: 'kiopBF', seed: 0 })).toThrow(/Unknown preset 'huge'\. Valid: paper, cpu, demo, smoke\./);
    const err = (() => {
      try {
        resolveKiopConfig({ preset: 'demo', variant: 'kiopX', seed: 0 });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toMatch(/Unknown variant 'kiopX'\. Valid: vanillaKd, kiopT, kiopB, kiopBF, multiModel, realDataRef\./);
  });
});
