import type { CdlConfig } from './continual-distillation.js';
import { resolveClConfig, type KdpPreset } from './presets.js';

/**
 * The {@link CdlConfig} of a preset for one CL method, KD method and seed: the preset's CL parameters for its
 * stream ({@link resolveClConfig}), KD hyper-parameters, per-task training and caches; C = N·K classes.
 *
 * @example
 * ```ts
 * const result = await runContinualDistillation(tasks, backbones, cdlConfigOf(kdpPresets.cpu, 'coda', 'kdp', 0));
 * ```
 */
export function cdlConfigOf(preset: KdpPreset, clMethod: string, kdMethod: string, seed: number): CdlConfig {
  return {
    clMethod,
    clConfig: resolveClConfig(preset, clMethod, preset.data.numTasks),
    kdMethod,
    hyper: preset.kd,
    numClasses: preset.data.numTasks * preset.data.classesPerTask,
    training: preset.training,
    seed,
    cacheQueries: preset.cache.queries,
    cacheTeacherLogits: preset.cache.teacherLogits,
  };
}
