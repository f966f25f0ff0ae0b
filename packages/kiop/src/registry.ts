import { createRegistry } from '@promptkd/core';
import type { KiopVariantKey } from './config.js';
import { KIOP_PAPER, type KiopVariant } from './session.js';
import { kiopB } from './variants/kiop-b.js';
import { kiopBF } from './variants/kiop-bf.js';
import { kiopT } from './variants/kiop-t.js';
import { multiModel } from './variants/multi-model.js';
import { realDataRef } from './variants/real-data-ref.js';
import { vanillaKd } from './variants/vanilla-kd.js';

/** Registry of KiOP variants (trainers); all share {@link trainKiop}'s loop. */
export const kiopVariantRegistry = createRegistry<KiopVariant['create']>('KiOP variant');

const entries: Record<KiopVariantKey, [string, KiopVariant]> = {
  vanillaKd: ['Vanilla-KD: data-free KD trains the host itself; its original head is restored for Acc.A', vanillaKd],
  kiopT: ['KiOP-T: prompt stores the source only (L_B)', kiopT],
  kiopB: ['KiOP-B: synthetic source bank, real host data for preservation (L_A + L_B)', kiopB],
  kiopBF: ['KiOP-BF: both banks synthetic, fully data-free (L_A + L_B)', kiopBF],
  multiModel: ['Multi-model: N ≥ 2 sources in one segmented prompt, disjoint label slices', multiModel],
  realDataRef: ['Real-data reference (not the paper\'s method): KiOP-B on the source\'s real training images', realDataRef],
};
for (const [key, [description, variant]] of Object.entries(entries)) {
  kiopVariantRegistry.register(key, { description, paper: KIOP_PAPER, create: variant.create });
}
