import { createPromptSession } from '../prompt-session.js';
import type { KiopVariant } from '../session.js';

/**
 * KiOP-Bilateral-Fake (KiOP-BF, paper §5; reference `KiOP_BF.py`): fully data-free. Bank A comes from a second
 * CMI synthesizer with the frozen host (eval mode) as teacher and SMA as adversary: L = α·L_A + β·L_B.
 */
export const kiopBF: KiopVariant = { create: (ctx) => createPromptSession(ctx, 'synthetic') };
