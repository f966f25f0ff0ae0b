export type {
  KdHyperParams,
  KdMethodArgs,
  KdMethod,
  KdLossArgs,
  TeacherFeatureNeed,
  TeacherOutputs,
  StudentExtras,
} from './types.js';
export { KdPrompts, type KdPromptsOptions } from './kd-prompts.js';
export { createStudentAlone } from './kd-methods/none.js';
export { createLogitKd } from './kd-methods/logit-kd.js';
export { createDkd } from './kd-methods/dkd.js';
export { createFitNets } from './kd-methods/fitnets.js';
export { createReviewKd } from './kd-methods/review-kd.js';
export { createKdp, createDeitToken, createKdpAlpha0 } from './kd-methods/kdp.js';
export { evaluateHeads, headHistory, recordHeads, type HeadScores, type HeadAccuracies, type HeadHistory } from './head-accuracy.js';
export { kdMethodRegistry, createKdMethod, type KdMethodFactory, type KdMethodMeta } from './registry.js';
export { LiveTeacher, teacherTaskLogits, computeTaskTeacherLogits, type TeacherSource } from './teacher.js';
export { DistillationStudent } from './distillation-student.js';
export {
  runContinualDistillation,
  exportStudentState,
  importStudentState,
  type CdlResume,
  type CdlBackbones,
  type CdlConfig,
  type CdlResult,
  type CdlRunOptions,
  type CdlProgress,
  type CdlState,
  type CdlTaskEnd,
  type CdlStep,
  type StreamResult,
} from './continual-distillation.js';
export { TeacherStream, type TeacherStreamOptions, type TeacherStreamState, type TeacherTaskEnd } from './teacher-stream.js';
export { cdlSeed, CDL_SEED_ROLES, type CdlSeedRole } from './cdl-seed.js';
export {
  kdpPresets,
  kdpPresetSchema,
  kdpRunPresetSchema,
  backbonePretrainingSchema,
  vitShapeSchema,
  clPresetParamsSchema,
  kdHyperParamsSchema,
  taskTrainingSchema,
  parseKdpPreset,
  resolveClConfig,
  validateKdpPreset,
  type KdpPreset,
  type KdpRunPreset,
  type BackbonePretraining,
  type KdpPresetName,
  type VitShape,
  type ClPresetParams,
} from './presets.js';
export { vitShapeOf, VIT_SHAPE_NAMES } from './vit-shapes.js';
export { cdlConfigOf } from './cdl-config-of.js';
export { kdpRunPresets } from './kdp-run-presets.js';
export { parseCdlSplit, cdlSplitOf } from './cdl-split.js';
export { cdlGroupName, cdlRunName, cdlTeacherRunName, cdlCellName } from './cdl-run-names.js';
export type { CdlCellSpec } from './cdl-cell-spec.js';
export { cdlGridCells, type CdlGridAxes } from './cdl-grid-cells.js';
export { cdlRowLabel, CDL_TEACHER_ROW, type CdlCellResults, type CdlBackboneInfo, type FoundCdlRun } from './cdl-results.js';
export { cdlSeedValues, type CdlMetric } from './cdl-seed-values.js';
export { cdlAccuracyCurves } from './cdl-accuracy-curves.js';
export { cdlHeadSummary, type CdlHeadSummary } from './cdl-head-summary.js';
