export * from './config.js';
export { kiopPresets, type KiopPresetName } from './presets.js';
export type * from './ports.js';
export { FusedModels } from './fusion.js';
export { effectiveClasses, evaluatePredictions, top1Accuracy } from './evaluate.js';
export { bankStream } from './bank-stream.js';
export { bankAgreement, bankBatches } from './bank-agreement.js';
export {
  bankAlignment,
  featureAlignment,
  featuresTap,
  MissingFeaturesError,
  modelFeatures,
  realClassMeans,
  type ClassMeans,
  type FeatureAlignment,
} from './feature-alignment.js';
export { updateIterativeMapping } from './iterative-mapping-update.js';
export { sourceTerm, preservationTerm } from './kl-terms.js';
export { createPromptSession, PROMPT_BN_IMAGES, type PreservationData } from './prompt-session.js';
export { promptBnStatistics, type PromptBnStatistics } from './prompt-bn-statistics.js';
export { KIOP_PAPER, type KiopContext, type KiopVariant, type VariantSession } from './session.js';
export { kiopVariantRegistry, synthesizedBanks, type KiopVariantMeta } from './registry.js';
export {
  trainKiop,
  knowledgeStoringStep,
  cosineLr,
  flatEpochMetrics,
  type KiopEpoch,
  type KiopEpochEnd,
  type KiopStepEnd,
  type KiopHooks,
  type KiopResult,
} from './train-kiop.js';
export { kiopTrainingState, type KiopTraining, type KiopTrainingJson } from './training-state.js';
export { createKiopContext, type KiopParticipant, type KiopPipelineInput } from './pipeline.js';
export { bankAugment } from './bank-augment.js';
export { checkKiopClaims, type KiopClaimCell, type KiopClaimCheck, type KiopClaimThresholds } from './kiop-claims.js';
export { withReferenceNormalization } from './renormalize.js';
export { epochSeed } from './reseed.js';
export { sourceAccuracyName } from './source-accuracy-name.js';
export {
  buildPresetNetwork,
  participantPresets,
  participantPresetSchema,
  pretrainRecipe,
  pretrainRecipeSchema,
  type ParticipantPreset,
  type PretrainRecipe,
} from './participant-presets.js';
