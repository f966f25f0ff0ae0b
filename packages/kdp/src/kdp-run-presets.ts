import { kdpPresets, type KdpPresetName, type KdpRunPreset } from './presets.js';

/**
 * The {@link kdpPresets} as a run uses them: `paper` and `paper-imagenet-r` (the v3 settings, timm checkpoints
 * required) as they are, and the CPU ones (`cpu`, `demo`, `smoke`) with the recipe that pretrains their small ViTs
 * in-app on a held-out pool when no checkpoint is given (kdp-spec §8.2). Pass one to `runCdlCell`
 * (`@promptkd/kdp/node`), or resolve it with a split and overrides by `resolveKdpPreset`.
 *
 * @remarks Deviation from kdp-spec §8.2: pretraining uses weight decay 0. The pretraining optimiser is PyTorch Adam
 * with coupled L2, and a coupled 0.05 would act very differently from the spec's AdamW 0.05.
 *
 * @example
 * ```ts
 * await runCdlCell({ preset: kdpRunPresets.demo, clMethod: 'coda', kdMethods: ['none', 'kdp'], seed: 0, root: 'runs/kdp' });
 * ```
 */
export const kdpRunPresets: Readonly<Record<KdpPresetName, KdpRunPreset>> = {
  paper: kdpPresets.paper,
  'paper-imagenet-r': kdpPresets['paper-imagenet-r'],
  cpu: { ...kdpPresets.cpu, pretraining: { images: 10000, epochs: 3, lr: 1e-3, weightDecay: 0, batchSize: 64 } },
  demo: { ...kdpPresets.demo, pretraining: { images: 4000, epochs: 2, lr: 1e-3, weightDecay: 0, batchSize: 64 } },
  smoke: { ...kdpPresets.smoke, pretraining: { images: 40, epochs: 1, lr: 1e-3, weightDecay: 0, batchSize: 20 } },
};
