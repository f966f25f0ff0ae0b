import { createRegistry } from '@promptkd/core';
import type { KiopVariantKey } from './config.js';
import { KIOP_PAPER, type KiopVariant } from './session.js';
import { kiopB } from './variants/kiop-b.js';
import { kiopBF } from './variants/kiop-bf.js';
import { kiopT } from './variants/kiop-t.js';
import { multiModel } from './variants/multi-model.js';
import { realDataRef } from './variants/real-data-ref.js';
import { vanillaKd } from './variants/vanilla-kd.js';

/** Facts about a KiOP variant that apps and docs read from the registry. */
export interface KiopVariantMeta {
  /** Name in the paper's tables (`KiOP-BF`). */
  readonly label: string;
  /** Row order in the paper's tables. */
  readonly order: number;
  /** Where data bank A (host preservation) comes from: none (no L_A), real host images, or a CMI synthesizer. */
  readonly hostBank: 'none' | 'real' | 'synthetic';
  /** Where the source banks come from: CMI synthesizers (the paper) or real source images (reference only). */
  readonly sourceBank: 'synthetic' | 'real';
  /** Whether a visual prompt is trained (false for Vanilla-KD, which trains the host itself). */
  readonly usesPrompt: boolean;
}

/** Registry of KiOP variants (trainers); all share {@link trainKiop}'s loop. */
export const kiopVariantRegistry = createRegistry<KiopVariant['create'], KiopVariantMeta>('KiOP variant');

const entries: Record<KiopVariantKey, [string, KiopVariant, KiopVariantMeta]> = {
  vanillaKd: [
    'Vanilla-KD: data-free KD trains the host itself; its original head is restored for Acc.A',
    vanillaKd,
    { label: 'Vanilla-KD', order: 0, hostBank: 'none', sourceBank: 'synthetic', usesPrompt: false },
  ],
  kiopT: ['KiOP-T: prompt stores the source only (L_B)', kiopT, { label: 'KiOP-T', order: 1, hostBank: 'none', sourceBank: 'synthetic', usesPrompt: true }],
  kiopB: [
    'KiOP-B: synthetic source bank, real host data for preservation (L_A + L_B)',
    kiopB,
    { label: 'KiOP-B', order: 2, hostBank: 'real', sourceBank: 'synthetic', usesPrompt: true },
  ],
  kiopBF: [
    'KiOP-BF: both banks synthetic, fully data-free (L_A + L_B)',
    kiopBF,
    { label: 'KiOP-BF', order: 3, hostBank: 'synthetic', sourceBank: 'synthetic', usesPrompt: true },
  ],
  multiModel: [
    'Multi-model: N ≥ 2 sources in one segmented prompt, disjoint label slices',
    multiModel,
    { label: 'Multi-model', order: 4, hostBank: 'synthetic', sourceBank: 'synthetic', usesPrompt: true },
  ],
  realDataRef: [
    "Real-data reference (not the paper's method): KiOP-B on the source's real training images",
    realDataRef,
    { label: 'real-data ref. (not KiOP)', order: 5, hostBank: 'real', sourceBank: 'real', usesPrompt: true },
  ],
};
for (const [key, [description, variant, meta]] of Object.entries(entries)) {
  kiopVariantRegistry.register(key, { description, paper: KIOP_PAPER, meta, create: variant.create });
}

/** Number of CMI synthesizers (synthetic banks) a variant runs with `sources` source models. */
export function synthesizedBanks(variant: string, sources: number): number {
  const meta = kiopVariantRegistry.get(variant).meta;
  return (meta?.sourceBank === 'synthetic' ? sources : 0) + (meta?.hostBank === 'synthetic' ? 1 : 0);
}
