import { ConfigError } from '@promptkd/core';
import { applyOverrides, parseConfig, parseSetOverrides } from '@promptkd/experiments';
import { KIOP_VARIANTS, kiopConfigSchema, type KiopConfig, type KiopVariantKey } from './config.js';
import { kiopPresets, type KiopPresetName } from './presets.js';

/** Options of {@link resolveKiopConfig}. */
export interface ResolveKiopConfigOptions {
  /** A {@link kiopPresets} name. */
  readonly preset: string;
  readonly variant: string;
  readonly seed: number;
  /** How many source models the prompt stores (default 1). */
  readonly sources?: number;
  /** `key.path=value` overrides (`epochs=3`, `fidelity.hostBnTrainMode=true`), parsed against the config schema. */
  readonly overrides?: readonly string[];
}

/**
 * The validated {@link KiopConfig} of a preset for a variant and seed: for the multi-model variant, one more
 * periphery segment per extra source (32 → 36 → PP → PP2, 16 px wider each; the reference uses 224), then the
 * overrides. An unknown preset or variant, a bad override or an invalid result throws a `ConfigError` that lists
 * what is valid.
 *
 * @example
 * resolveKiopConfig({ preset: 'demo', variant: 'kiopBF', seed: 0, overrides: ['epochs=3'] });
 */
export function resolveKiopConfig(options: ResolveKiopConfigOptions): KiopConfig {
  const presets = Object.keys(kiopPresets);
  if (!presets.includes(options.preset)) {
    throw new ConfigError(`Unknown preset '${options.preset}'. Valid: ${presets.join(', ')}.`, { field: 'preset', valid: presets });
  }
  if (!KIOP_VARIANTS.includes(options.variant as KiopVariantKey)) {
    throw new ConfigError(`Unknown variant '${options.variant}'. Valid: ${KIOP_VARIANTS.join(', ')}.`, { field: 'variant', valid: KIOP_VARIANTS });
  }
  const base = { ...kiopPresets[options.preset as KiopPresetName], variant: options.variant as KiopVariantKey, seed: options.seed };
  const segments = (options.sources ?? 1) + 2;
  if (base.variant === 'multiModel' && base.promptSizes.length < segments) {
    const last = base.promptSizes[base.promptSizes.length - 1]!;
    base.promptSizes = [...base.promptSizes, ...Array.from({ length: segments - base.promptSizes.length }, (_, i) => last + 16 * (i + 1))];
  }
  const withSet = options.overrides?.length ? applyOverrides(base, parseSetOverrides(kiopConfigSchema, options.overrides)) : base;
  return parseConfig(kiopConfigSchema, withSet, `preset '${options.preset}'`);
}
