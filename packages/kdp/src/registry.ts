import { createRegistry, type EntryMeta } from '@promptkd/core';
import { createDkd } from './kd-methods/dkd.js';
import { createFitNets } from './kd-methods/fitnets.js';
import { createDeitToken, createKdp, createKdpAlpha0 } from './kd-methods/kdp.js';
import { createLogitKd } from './kd-methods/logit-kd.js';
import { createStudentAlone } from './kd-methods/none.js';
import { createReviewKd } from './kd-methods/review-kd.js';
import type { KdMethod, KdMethodArgs } from './types.js';

/** Factory of a KD method. */
export type KdMethodFactory = (args: KdMethodArgs) => KdMethod;

/**
 * Facts about a KD method that tables read: `label` (the paper's row name), `order` (the paper's row order,
 * student alone first, KDP last), `control` (a diagnostic run, not a row of the paper).
 */
export interface KdMethodMeta extends EntryMeta {
  readonly control?: boolean;
}

/** Registry of the continual-distillation KD methods: baselines and KDP. */
export const kdMethodRegistry = createRegistry<KdMethodFactory, KdMethodMeta>('KD method');

const CDL = { citation: 'Zhang, Guo, Xiang, 2025', title: 'Continual Distillation Learning (v3, KDP)', url: 'https://arxiv.org/abs/2407.13911' };

kdMethodRegistry.register('none', {
  description: 'student alone: CL method on the small ViT, CE + key loss',
  paper: CDL,
  meta: { label: 'student alone', order: 0 },
  create: createStudentAlone,
});
kdMethodRegistry.register('kd', {
  description: 'logit KD on the CLS head, current-task columns: (1−α)CE + ατ²KL',
  paper: { citation: 'Hinton et al., 2015', title: 'Distilling the Knowledge in a Neural Network', url: 'https://arxiv.org/abs/1503.02531' },
  meta: { label: 'KD', order: 1 },
  create: createLogitKd,
});
kdMethodRegistry.register('dkd', {
  description: 'Decoupled KD (TCKD + 4·NCKD, T=4) on the CLS head, current-task columns',
  paper: { citation: 'Zhao et al., CVPR 2022', title: 'Decoupled Knowledge Distillation', url: 'https://arxiv.org/abs/2203.08679' },
  meta: { label: 'DKD', order: 2 },
  create: createDkd,
});
kdMethodRegistry.register('fitnets', {
  description: 'logit KD + 0.1·MSE(W_p·last student block, last teacher block)',
  paper: { citation: 'Romero et al., ICLR 2015', title: 'FitNets: Hints for Thin Deep Nets', url: 'https://arxiv.org/abs/1412.6550' },
  meta: { label: 'FitNets', order: 3 },
  create: createFitNets,
});
kdMethodRegistry.register('reviewkd', {
  description: 'logit KD + 0.2·ReviewKD over all student blocks (ABF fusion, token adaptation)',
  paper: { citation: 'Chen et al., CVPR 2021', title: 'Distilling Knowledge via Knowledge Review', url: 'https://arxiv.org/abs/2104.09044' },
  meta: { label: 'ReviewKD', order: 4 },
  create: createReviewKd,
});
kdMethodRegistry.register('deit', {
  description: 'DeiT distillation token + KD head (KDP with n_kd = 1), prediction (1−α)g + αk',
  paper: { citation: 'Touvron et al., ICML 2021', title: 'Training data-efficient image transformers & distillation through attention', url: 'https://arxiv.org/abs/2012.12877' },
  meta: { label: 'DeiT token', order: 5 },
  create: createDeitToken,
});
kdMethodRegistry.register('kdp', {
  description: 'KDP: KD token + appended KD prefix prompts (layers 1..n_kd−1) + KD head, shared by all tasks',
  paper: CDL,
  meta: { label: 'KDP', order: 6 },
  create: (args) => createKdp(args),
});

kdMethodRegistry.register('kdp-alpha0', {
  description: 'control: KDP parts in the forward with α = 0 (CE + key loss only, KD head untrained, prediction g)',
  paper: CDL,
  meta: { label: 'KDP α = 0 (control)', order: 7, control: true },
  create: createKdpAlpha0,
});

/** Creates a KD method by registry key. */
export function createKdMethod(key: string, args: KdMethodArgs): KdMethod {
  return kdMethodRegistry.get(key).create(args);
}
