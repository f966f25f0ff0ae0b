import { createPromptSession } from '../prompt-session.js';
import type { KiopVariant } from '../session.js';

/**
 * KiOP-Bilateral (KiOP-B, paper §5; reference `KiOP_B.py`): synthetic source bank B plus the REAL host
 * training set as data bank A: L = α·L_A + β·L_B.
 */
export const kiopB: KiopVariant = { create: (ctx) => createPromptSession(ctx, 'real') };
