import { ConfigError } from '@promptkd/core';
import type { KdpPreset } from './presets.js';

/**
 * A dataset split written `<tasks>x<classes per task>` as the preset's `data` fields: `2x5` → 2 tasks × 5 classes.
 * Throws {@link ConfigError} (field `split`) for anything else.
 *
 * @example
 * parseCdlSplit('5x2'); // { numTasks: 5, classesPerTask: 2 }
 */
export function parseCdlSplit(split: string): { numTasks: number; classesPerTask: number } {
  const m = /^(\d+)x(\d+)$/.exec(split);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) {
    throw new ConfigError(`Split '${split}' must look like <tasks>x<classes per task>, e.g. 2x5 or 5x2.`, { field: 'split' });
  }
  return { numTasks: Number(m[1]), classesPerTask: Number(m[2]) };
}

/**
 * A preset's split as {@link parseCdlSplit} reads it: `<numTasks>x<classesPerTask>`.
 *
 * @example
 * cdlSplitOf(kdpPresets.cpu); // '5x2'
 */
export function cdlSplitOf(preset: Pick<KdpPreset, 'data'>): string {
  return `${preset.data.numTasks}x${preset.data.classesPerTask}`;
}
