import { createPromptSession } from '../prompt-session.js';
import type { KiopVariant } from '../session.js';

/**
 * Real-data reference (not part of the paper's method): KiOP-B with the source's REAL training images in place of
 * the synthetic bank B, at the same budget (L = α·L_A + β·L_B, L_B = KL_τ(f_B(x) ‖ SMB(x)) on real x). Its Acc.B
 * bounds what the data-free prompt can reach with this host, prompt and budget; the gap to KiOP-B is the cost of
 * synthesis.
 */
export const realDataRef: KiopVariant = { create: (ctx) => createPromptSession(ctx, 'real', 'real') };
