import { ConfigError } from '@promptkd/core';

/**
 * CODA-Prompt's per-epoch "cosine" learning rate (spec §2): lr_e = lr0 · cos(99π·e / (200·(E−1))),
 * e = 0..E−1; it ends at ≈1.6% of lr0. With E = 1 the single epoch uses lr0.
 *
 * @param lr0 initial learning rate (1e-3).
 * @param epoch e (0-based).
 * @param epochs E — epochs per task.
 */
export function codaCosineLr(lr0: number, epoch: number, epochs: number): number {
  if (!Number.isInteger(epochs) || epochs < 1) throw new ConfigError(`epochs must be a positive integer, got ${epochs}.`, { field: 'epochs' });
  if (epoch < 0 || epoch >= epochs) throw new ConfigError(`epoch ${epoch} is outside [0, ${epochs}).`, { field: 'epoch' });
  if (epochs === 1) return lr0;
  return lr0 * Math.cos((99 * Math.PI * epoch) / (200 * (epochs - 1)));
}

/** Learning-rate schedules by name: `coda-cosine` (the reference) or `constant`. */
export type LrScheduleName = 'coda-cosine' | 'constant';

/** lr for epoch `e` under schedule `name`. */
export function scheduledLr(name: LrScheduleName, lr0: number, epoch: number, epochs: number): number {
  return name === 'constant' ? lr0 : codaCosineLr(lr0, epoch, epochs);
}
