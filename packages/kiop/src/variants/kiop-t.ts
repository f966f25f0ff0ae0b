import { createPromptSession } from '../prompt-session.js';
import type { KiopVariant } from '../session.js';

/**
 * KiOP-Tenuous (KiOP-T, paper §5): both models frozen; the prompt is trained only to transfer the source's
 * knowledge (L = β·L_B on synthetic bank B). Acc.A shows what an untrained Prompt Core costs the host.
 */
export const kiopT: KiopVariant = { create: (ctx) => createPromptSession(ctx, 'none') };
