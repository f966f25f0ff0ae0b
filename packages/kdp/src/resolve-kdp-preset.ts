import { ConfigError } from '@promptkd/core';
import { applyOverrides, parseConfig, parseSetOverrides } from '@promptkd/experiments';
import { parseCdlSplit } from './cdl-split.js';
import { kdpRunPresets } from './kdp-run-presets.js';
import { kdpRunPresetSchema, validateKdpPreset, type KdpPresetName, type KdpRunPreset } from './presets.js';
import { vitShapeOf } from './vit-shapes.js';

/** Options of {@link resolveKdpPreset}. */
export interface ResolveKdpPresetOptions {
  /** A {@link kdpRunPresets} name. */
  readonly preset: string;
  /** `<tasks>x<classes>` (`parseCdlSplit`), e.g. `5x2`. Default: the preset's. */
  readonly split?: string;
  /** Dataset key (`fashionMnist`, `cifar100`, `imagenetR`). Default: the preset's. */
  readonly dataset?: string;
  /** Teacher shape, a `vitShapeOf` name; absent or `preset` = the preset's. */
  readonly teacher?: string;
  /** Student (and query) shape, a `vitShapeOf` name; absent or `preset` = the preset's. */
  readonly student?: string;
  /** `key.path=value` overrides (`training.epochs=4`), parsed against {@link kdpRunPresetSchema}; applied last. */
  readonly overrides?: readonly string[];
}

/**
 * A {@link kdpRunPresets} entry with a split, a dataset, backbone shapes and `key.path=value` overrides applied (in
 * that order), validated by {@link kdpRunPresetSchema} and {@link validateKdpPreset}. An unknown preset, split,
 * shape or field, or an invalid result, throws a {@link ConfigError} that names the field (and lists what is valid).
 *
 * @example
 * ```ts
 * const p = resolveKdpPreset({ preset: 'cpu', split: '2x5', overrides: ['training.epochs=4'] });
 * await runCdlCell({ preset: p, clMethod: 'coda', kdMethods: ['none', 'kdp'], seed: 0, root: 'runs/kdp' });
 * ```
 */
export function resolveKdpPreset(options: ResolveKdpPresetOptions): KdpRunPreset {
  const names = Object.keys(kdpRunPresets);
  if (!names.includes(options.preset)) {
    throw new ConfigError(`Unknown preset '${options.preset}'. Valid: ${names.join(', ')}.`, { field: 'preset', valid: names });
  }
  let p: KdpRunPreset = kdpRunPresets[options.preset as KdpPresetName];
  if (options.split) p = applyOverrides(p, { data: parseCdlSplit(options.split) });
  if (options.dataset) p = applyOverrides(p, { data: { dataset: options.dataset } });
  const shapes: Record<string, unknown> = {};
  if (options.teacher && options.teacher !== 'preset') shapes.teacher = vitShapeOf(options.teacher);
  if (options.student && options.student !== 'preset') shapes.student = vitShapeOf(options.student);
  p = applyOverrides(p, shapes);
  if (options.overrides?.length) p = applyOverrides(p, parseSetOverrides(kdpRunPresetSchema, options.overrides));
  return validateKdpPreset(parseConfig(kdpRunPresetSchema, p, `preset '${options.preset}'`));
}
