export type {
  PrefixKV,
  BlockPrefix,
  PromptableForwardOptions,
  PromptableForward,
  PromptableViT,
  PromptSelection,
  SelectOptions,
  ClPromptMethod,
  LabeledImages,
  ClassIncrementalTask,
  Batch,
  Learner,
} from './types.js';
export { splitPrefix, concatPrefixes, tileToBatch, blockPrefixes, prefixAttentionHeads } from './prefix-tuning.js';
export { uniformTensor, normalTensor, uniformVariable } from './prompt-init.js';
export { l2Normalize, cosineMatrix } from './similarity.js';
export { pickFromPool, type PoolPick } from './prompt-pool.js';
export { L2P, L2P_DEFAULTS, l2pConfigSchema, type L2PConfig } from './l2p.js';
export { DualPrompt, DUAL_PROMPT_DEFAULTS, dualPromptConfigSchema, type DualPromptConfig } from './dual-prompt.js';
export { CodaPrompt, CODA_PROMPT_DEFAULTS, codaPromptConfigSchema, gramSchmidtRows, orthoPenalty, type CodaPromptConfig } from './coda-prompt.js';
export { parseWithSchema } from './method-config.js';
export { clMethodRegistry, createClMethod, type ClMethodArgs, type ClMethodFactory } from './registry.js';
export { maskedCrossEntropy } from './masked-cross-entropy.js';
export { LinearHead } from './linear-head.js';
/** The schedules live in `@promptkd/core` (one `lr-schedules.ts` for every loop); re-exported for continual users. */
export { codaCosineLr, scheduledLr, type LrScheduleName } from '@promptkd/core';
export {
  finalAverageAccuracy,
  averageAccuracyPerTask,
  forgettingAsCode,
  forgettingStandard,
  summarize,
  type AccuracyMatrix,
  type ClSummary,
} from './metrics.js';
export { clsQueryFunction, mapInBatches, QueryCache, type QueryFunction, type QuerySource } from './query.js';
export { PromptedClassifier, type PromptedForwardOptions, type PromptedForward } from './prompted-classifier.js';
export {
  trainStep,
  trainTask,
  taskOptimizer,
  taskSteps,
  taskEpochBatches,
  gatherRows,
  epochBatches,
  evaluateAccuracy,
  evaluateSeenTasks,
  runClassIncremental,
  type TaskTrainingOptions,
  type TrainContext,
  type StepInfo,
  type TaskEpochEnd,
  type TaskTrainingState,
  type ClTaskEnd,
  type ClassIncrementalState,
  type ClassIncrementalOptions,
  type ClassIncrementalResult,
} from './trainer.js';
export { stopGradient } from './stop-gradient.js';
export { fromVisionTransformer } from './vit-backbone.js';
