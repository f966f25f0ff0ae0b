import { ConfigError } from '@promptkd/core';
import { createPromptSession } from '../prompt-session.js';
import type { KiopVariant } from '../session.js';

/**
 * Multi-model KiOP (reference `KiOP_triple.py`): one host and N ≥ 2 sources in one segmented prompt
 * (e.g. 32 → 36 → 128 → 224: PC for the host, PP for source 1, PP2 for source 2), disjoint label-mapping
 * slices, one synthetic bank per model (host bank synthetic as in KiOP-BF): L = α·L_A + β·Σ_k L_k.
 */
export const multiModel: KiopVariant = {
  create(ctx) {
    if (ctx.sources.length < 2) {
      throw new ConfigError(`multiModel needs at least 2 sources, got ${ctx.sources.length}.`, { field: 'sources' });
    }
    return createPromptSession(ctx, 'synthetic');
  },
};
