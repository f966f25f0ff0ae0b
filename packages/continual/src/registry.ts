import { createRegistry, type Rng } from '@promptkd/core';
import { CODA_PROMPT_DEFAULTS, CodaPrompt, codaPromptConfigSchema } from './coda-prompt.js';
import { DUAL_PROMPT_DEFAULTS, DualPrompt, dualPromptConfigSchema } from './dual-prompt.js';
import { L2P, L2P_DEFAULTS, l2pConfigSchema } from './l2p.js';
import { parseWithSchema } from './method-config.js';
import type { ClPromptMethod } from './types.js';

/** Arguments every CL method factory receives. */
export interface ClMethodArgs {
  /** D — width of the prompted ViT (teacher or student). */
  readonly embedDim: number;
  /** D_q — width of the shared query ViT (student size). */
  readonly keyDim: number;
  /** N — number of tasks in the stream (CODA: components per task; DualPrompt: default pool size). */
  readonly numTasks: number;
  readonly rng: Rng;
  /** Method-specific overrides of the paper defaults (validated by the method's config schema). */
  readonly config?: Readonly<Record<string, unknown>>;
}

/** Factory of a CL prompt method. */
export type ClMethodFactory = (args: ClMethodArgs) => ClPromptMethod;

/** Registry of prompt-based continual-learning methods (`l2p`, `dualprompt`, `coda`). */
export const clMethodRegistry = createRegistry<ClMethodFactory>('CL method');

clMethodRegistry.register('l2p', {
  meta: { label: 'L2P', order: 2 },
  description: 'L2P++: prompt pool, top-k cosine key matching, key loss, prefix tuning at layer 0',
  paper: { citation: 'Wang et al., CVPR 2022', title: 'Learning to Prompt for Continual Learning', url: 'https://arxiv.org/abs/2112.08654' },
  create: ({ embedDim, keyDim, rng, config }) => new L2P(embedDim, keyDim, parseWithSchema('l2p config', l2pConfigSchema, { ...L2P_DEFAULTS, ...config }), rng),
});

clMethodRegistry.register('dualprompt', {
  meta: { label: 'DualPrompt', order: 1 },
  description: 'DualPrompt: shared G-prompts + task E-prompt pool (task id in training, top-1 key at test)',
  paper: {
    citation: 'Wang et al., ECCV 2022',
    title: 'DualPrompt: Complementary Prompting for Rehearsal-free Continual Learning',
    url: 'https://arxiv.org/abs/2204.04799',
  },
  create: ({ embedDim, keyDim, numTasks, rng, config }) =>
    new DualPrompt(embedDim, keyDim, parseWithSchema('dualprompt config', dualPromptConfigSchema, { ...DUAL_PROMPT_DEFAULTS, poolSize: numTasks, ...config }), rng),
});

clMethodRegistry.register('coda', {
  meta: { label: 'CODA-P', order: 0 },
  description: 'CODA-Prompt: attention-weighted prompt components, per-task Gram–Schmidt init, past components frozen',
  paper: {
    citation: 'Smith et al., CVPR 2023',
    title: 'CODA-Prompt: COntinual Decomposed Attention-based Prompting for Rehearsal-Free Continual Learning',
    url: 'https://arxiv.org/abs/2211.13218',
  },
  create: ({ embedDim, keyDim, numTasks, rng, config }) =>
    new CodaPrompt(embedDim, keyDim, parseWithSchema('coda config', codaPromptConfigSchema, { ...CODA_PROMPT_DEFAULTS, numTasks, ...config }), rng),
});

/** Creates a CL method by registry key. */
export function createClMethod(key: string, args: ClMethodArgs): ClPromptMethod {
  return clMethodRegistry.get(key).create(args);
}
