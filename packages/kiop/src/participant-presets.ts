/*
 * What a KiOP run needs besides its `KiopConfig`: which architecture plays host and source, how they are pretrained
 * when no checkpoint is given, and how much data each stage sees. Data, validated by `participantPresetSchema`;
 * `prepareParticipant` (`@promptkd/kiop/node`) reads it.
 */
import { createModel, type FunctionalClassifier } from '@promptkd/models';
import { z } from 'zod';

/** SGD (momentum 0.9, cosine) pretraining of a host or source. */
export const pretrainRecipeSchema = z.object({
  epochs: z.number().int().positive(),
  batchSize: z.number().int().positive(),
  lr: z.number().positive(),
  weightDecay: z.number().nonnegative(),
  /** Training-time augmentation on top of the dataset's train transform: `crop` = random crop with 2-px zero padding. */
  augment: z.enum(['none', 'crop']).optional(),
});

/** A pretraining recipe ({@link pretrainRecipeSchema}). */
export type PretrainRecipe = z.infer<typeof pretrainRecipeSchema>;

/** Schema of a {@link ParticipantPreset}: the host's and sources' architecture, pretraining and data limits. */
export const participantPresetSchema = z.object({
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

/** How a KiOP run's host and sources are built, pretrained and sized ({@link participantPresetSchema}). */
export type ParticipantPreset = z.infer<typeof participantPresetSchema>;

/**
 * The pretraining recipe of `dataset` under `preset` (its per-dataset changes applied).
 *
 * @example
 * pretrainRecipe(participantPresets.demo, 'mnist'); // { epochs: 15, batchSize: 64, lr: 0.05, weightDecay: 5e-4, augment: 'crop' }
 */
export function pretrainRecipe(preset: ParticipantPreset, dataset: string): PretrainRecipe {
  return { ...preset.pretrain, ...preset.pretrainByDataset?.[dataset] };
}

/** An untrained network of the preset's architecture with `numClasses` outputs (a host, source or Vanilla-KD student). */
export function buildPresetNetwork(preset: ParticipantPreset, numClasses: number, seed: number): FunctionalClassifier {
  return createModel(preset.arch, { ...preset.archConfig, numClasses, seed }) as FunctionalClassifier;
}

/**
 * The participants of each {@link kiopPresets} entry: `paper` uses torchvision's ResNet-18 (pretrained with a
 * guessed recipe when no checkpoint is given); `cpu`, `demo` and `smoke` use small BN CNNs and cap the test (and for
 * `smoke` the training) images per class. `cpu` and `demo` pretrain every host and source with random crops (2-px
 * zero padding): a Fashion-MNIST host trained without them lost 18.5 points to the untrained prompt's grey 2-px ring
 * (92.1 → 73.6 %), one trained with them 5.5 (90.3 → 84.8 %), so KiOP-BF's Acc.A clears K1's floor on the reverse pair
 * (apps/kiop-bench/RESULTS.md, "Random crops for the Fashion-MNIST host").
 */
export const participantPresets: Record<'paper' | 'cpu' | 'demo' | 'smoke', ParticipantPreset> = {
  paper: {
    arch: 'resnet18',
    archConfig: {},
    pretrain: { epochs: 30, batchSize: 128, lr: 0.1, weightDecay: 5e-4 },
  },
  cpu: {
    arch: 'bnCnn',
    archConfig: { blocks: [32, 64, 128] },
    pretrain: { epochs: 3, batchSize: 64, lr: 0.05, weightDecay: 5e-4, augment: 'crop' },
    pretrainByDataset: { mnist: { epochs: 15 } },
    testPerClass: 300,
  },
  demo: {
    arch: 'bnCnn',
    archConfig: { blocks: [32, 64, 128] },
    pretrain: { epochs: 3, batchSize: 64, lr: 0.05, weightDecay: 5e-4, augment: 'crop' },
    pretrainByDataset: { mnist: { epochs: 15 } },
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
