/**
 * What the benchmark adds to a KiOP preset: which architecture plays host and source, how they are pretrained
 * when no checkpoint is given, and how much data each stage sees. Data, validated by `benchPresetSchema`.
 */
import { z } from 'zod';

/** SGD (momentum 0.9, cosine) pretraining of a host or source. */
const pretrainRecipeSchema = z.object({
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive(),
  lr: z.number().positive(),
  weightDecay: z.number().nonnegative(),
  /** Training-time augmentation on top of the dataset's train transform: `crop` = random crop with 2-px zero padding. */
  augment: z.enum(['none', 'crop']).optional(),
});
export type PretrainRecipe = z.infer<typeof pretrainRecipeSchema>;

export const benchPresetSchema = z.object({
  /** Model registry key for host and source (paper: torchvision ResNet-18). */
  arch: z.string(),
  /** Config merged into the model preset (widths, blocks). */
  archConfig: z.record(z.string(), z.unknown()),
  /** Pretraining recipe for hosts/sources that have no checkpoint (the paper's recipe is not published). */
  pretrain: pretrainRecipeSchema,
  /** Per-dataset changes to `pretrain` (e.g. more epochs and random crops for a small training split). */
  pretrainByDataset: z.record(z.string(), pretrainRecipeSchema.partial()).optional(),
  /** At most this many training images per class for pretraining (and KiOP-B's real host bank). */
  trainPerClass: z.number().int().positive().optional(),
  /** At most this many test images per class for Acc.A / Acc.B and clean accuracy. */
  testPerClass: z.number().int().positive().optional(),
});
export type BenchPreset = z.infer<typeof benchPresetSchema>;

/** The pretraining recipe of `dataset` under `preset` (its per-dataset changes applied). */
export function pretrainRecipe(preset: BenchPreset, dataset: string): PretrainRecipe {
  return { ...preset.pretrain, ...preset.pretrainByDataset?.[dataset] };
}

export const benchPresets: Record<'paper' | 'cpu' | 'demo' | 'smoke', BenchPreset> = {
  paper: {
    arch: 'resnet18',
    archConfig: {},
    pretrain: { epochs: 30, batchSize: 128, lr: 0.1, weightDecay: 5e-4 },
  },
  cpu: {
    arch: 'bnCnn',
    archConfig: { blocks: [32, 64, 128] },
    pretrain: { epochs: 3, batchSize: 64, lr: 0.05, weightDecay: 5e-4 },
    pretrainByDataset: { mnist: { epochs: 15, augment: 'crop' } },
    testPerClass: 300,
  },
  demo: {
    arch: 'bnCnn',
    archConfig: { blocks: [32, 64, 128] },
    pretrain: { epochs: 3, batchSize: 64, lr: 0.05, weightDecay: 5e-4 },
    pretrainByDataset: { mnist: { epochs: 15, augment: 'crop' } },
    testPerClass: 100,
  },
  smoke: {
    arch: 'bnCnn',
    archConfig: { blocks: [4, 8] },
    pretrain: { epochs: 1, batchSize: 16, lr: 0.05, weightDecay: 0 },
    trainPerClass: 6,
    testPerClass: 3,
  },
};
