/**
 * What the benchmark adds to a KiOP preset: which architecture plays host and source, how they are pretrained
 * when no checkpoint is given, and how much data each stage sees. Data, validated by `benchPresetSchema`.
 */
import { z } from 'zod';

export const benchPresetSchema = z.object({
  /** Model registry key for host and source (paper: torchvision ResNet-18). */
  arch: z.string(),
  /** Config merged into the model preset (widths, blocks). */
  archConfig: z.record(z.string(), z.unknown()),
  /** Pretraining recipe for hosts/sources that have no checkpoint (the paper's recipe is not published). */
  pretrain: z.object({
    epochs: z.number().int().positive(),
    batchSize: z.number().int().positive(),
    lr: z.number().positive(),
    weightDecay: z.number().nonnegative(),
  }),
  /** At most this many training images per class for pretraining (and KiOP-B's real host bank). */
  trainPerClass: z.number().int().positive().optional(),
  /** At most this many test images per class for Acc.A / Acc.B and clean accuracy. */
  testPerClass: z.number().int().positive().optional(),
});
export type BenchPreset = z.infer<typeof benchPresetSchema>;

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
    trainPerClass: 2000,
    testPerClass: 300,
  },
  demo: {
    arch: 'bnCnn',
    archConfig: { blocks: [16, 32, 64] },
    pretrain: { epochs: 2, batchSize: 64, lr: 0.05, weightDecay: 5e-4 },
    trainPerClass: 600,
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
