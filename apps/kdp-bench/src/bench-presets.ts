/**
 * The benchmark's presets as validated data: `@promptkd/kdp` presets with the in-app backbone-pretraining recipe of
 * the CPU ones. `paper` = the v3 main setting (Split CIFAR-100, ViT-B → ViT-S from timm checkpoints); `cpu` = the
 * kdp-spec §8.2 miniature on Fashion-MNIST; `demo` = a few-minute pipeline check (undertrained, not for comparing
 * methods); `smoke` = the test-suite cell.
 */
import { ConfigError } from '@promptkd/core';
import { applyOverrides, parseConfig, parseSetOverrides } from '@promptkd/experiments';
import { kdpPresets, kdpRunPresetSchema, validateKdpPreset, type KdpRunPreset } from '@promptkd/kdp';

/** Schema of a bench preset (`@promptkd/kdp`'s run preset: a `KdpPreset` + pretraining recipe). `--set a.b=v` paths follow it. */
export const benchPresetSchema = kdpRunPresetSchema;
export type BenchPreset = KdpRunPreset;

export const PRESET_NAMES = ['paper', 'paper-imagenet-r', 'cpu', 'demo', 'smoke'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/**
 * The presets: the library's, plus a pretraining recipe for the CPU ones. One documented deviation from kdp-spec
 * §8.2: pretraining uses weight decay 0 (our pretraining optimiser is PyTorch Adam with coupled L2 — a coupled
 * 0.05 would act very differently from the spec's AdamW 0.05).
 */
export const benchPresets: Record<PresetName, BenchPreset> = {
  paper: kdpPresets.paper,
  'paper-imagenet-r': kdpPresets['paper-imagenet-r'],
  cpu: { ...kdpPresets.cpu, pretraining: { images: 10000, epochs: 3, lr: 1e-3, weightDecay: 0, batchSize: 64 } },
  demo: { ...kdpPresets.demo, pretraining: { images: 4000, epochs: 2, lr: 1e-3, weightDecay: 0, batchSize: 64 } },
  smoke: { ...kdpPresets.smoke, pretraining: { images: 40, epochs: 1, lr: 1e-3, weightDecay: 0, batchSize: 20 } },
};

/** `2x5` → 2 tasks × 5 classes. */
export function parseSplit(split: string): { numTasks: number; classesPerTask: number } {
  const m = /^(\d+)x(\d+)$/.exec(split);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) {
    throw new ConfigError(`Split '${split}' must look like <tasks>x<classes per task>, e.g. 2x5 or 5x2.`, { field: 'split' });
  }
  return { numTasks: Number(m[1]), classesPerTask: Number(m[2]) };
}

/**
 * A preset with a split and `--set` overrides applied, validated by the schema and by `validateKdpPreset`.
 * Throws {@link ConfigError} naming the bad field.
 */
export function resolvePresetConfig(name: string, options: { split?: string; dataset?: string; set?: readonly string[]; overrides?: Record<string, unknown> } = {}): BenchPreset {
  if (!(PRESET_NAMES as readonly string[]).includes(name)) {
    throw new ConfigError(`Unknown preset '${name}'. Valid: ${PRESET_NAMES.join(', ')}.`, { field: 'preset', valid: PRESET_NAMES });
  }
  let p: BenchPreset = benchPresets[name as PresetName];
  if (options.split) p = applyOverrides(p, { data: parseSplit(options.split) });
  if (options.dataset) p = applyOverrides(p, { data: { dataset: options.dataset } });
  if (options.overrides) p = applyOverrides(p, options.overrides);
  if (options.set?.length) p = applyOverrides(p, parseSetOverrides(benchPresetSchema, options.set));
  return validateKdpPreset(parseConfig(benchPresetSchema, p, `preset '${name}'`));
}
