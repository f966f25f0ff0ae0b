import { ConfigError } from './errors.js';
import { createRegistry } from './registry.js';

/**
 * Per-epoch learning-rate schedules shared by every promptkd training loop. Each is stepped once per epoch:
 * `lr(η₀, e, E)` for epoch e = 0..E−1 of a run with E epochs.
 */
export type LrSchedule = (lr0: number, epoch: number, epochs: number) => number;

/**
 * Cosine annealing to η_min = 0, stepped per epoch: η_e = η₀·(1 + cos(π·e/E))/2 (PyTorch `CosineAnnealingLR`,
 * T_max = E). KiOP's prompt SGD (kiop-spec §1.3) and the classifier pretraining use it.
 *
 * @param lr0 η₀, the learning rate of epoch 0.
 * @param epoch e (0-based).
 * @param epochs E = T_max.
 */
export function cosineAnnealingLr(lr0: number, epoch: number, epochs: number): number {
  return 0.5 * lr0 * (1 + Math.cos((Math.PI * epoch) / epochs));
}

/**
 * CODA-Prompt's per-epoch "cosine" learning rate (kdp-spec §2): lr_e = lr0 · cos(99π·e / (200·(E−1))),
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

/** A constant learning rate. */
export function constantLr(lr0: number): number {
  return lr0;
}

/** The per-epoch schedules by name. */
export const lrScheduleRegistry = createRegistry<LrSchedule>('learning-rate schedule');
lrScheduleRegistry.register('cosine', {
  description: 'cosine annealing to 0 over the epochs, stepped per epoch: η₀·(1 + cos(πe/E))/2',
  paper: { citation: 'Loshchilov & Hutter, ICLR 2017', title: 'SGDR: Stochastic Gradient Descent with Warm Restarts', url: 'https://arxiv.org/abs/1608.03983' },
  create: cosineAnnealingLr,
});
lrScheduleRegistry.register('coda-cosine', {
  description: "CODA-Prompt's per-epoch schedule η₀·cos(99πe / (200(E−1))), ending at ≈1.6% of η₀",
  paper: { citation: 'Smith et al., CVPR 2023', title: 'CODA-Prompt', url: 'https://arxiv.org/abs/2211.13218' },
  create: codaCosineLr,
});
lrScheduleRegistry.register('constant', { description: 'the same learning rate every epoch', create: constantLr });

/** Names of the registered schedules. */
export type LrScheduleName = 'cosine' | 'coda-cosine' | 'constant';

/** Learning rate of epoch `epoch` (0-based) of `epochs` under the schedule `name`, starting from `lr0`. */
export function scheduledLr(name: LrScheduleName, lr0: number, epoch: number, epochs: number): number {
  return lrScheduleRegistry.get(name).create(lr0, epoch, epochs);
}
