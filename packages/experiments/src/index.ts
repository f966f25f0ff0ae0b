/**
 * @promptkd/experiments — the experiment infrastructure shared by the KiOP and KDP apps: run folders,
 * atomic checkpoints with resume, NaN guards, progress, config schemas and presets, the grid runner and the
 * results collector. Tables, seed statistics and plots are in `@promptkd/reporting`.
 */
export { StorageError } from './errors.js';
export {
  writeFileAtomic,
  writeFileAtomicSync,
  writeFileDurable,
  removeStaleTempFiles,
  toStorageError,
  TEMP_MARKER,
} from './atomic-file.js';
export type { AtomicWriteOptions, WriteFileFn } from './atomic-file.js';
export {
  encodeSafetensors,
  decodeSafetensors,
  tensorsToRaw,
  rawToTensors,
  SAFETENSORS_MAX_HEADER_BYTES,
} from './safetensors.js';
export type { RawTensor } from './safetensors.js';
export { snapshotOptimizer, restoreOptimizer, orderOptimizerWeights } from './optimizer-state.js';
export type { OptimizerSnapshot, OptimizerSnapshotMeta, RestoreOptimizerOptions, NamedVariables } from './optimizer-state.js';
export {
  saveCheckpoint,
  loadCheckpoint,
  loadLatestCheckpoint,
  listCheckpoints,
  assignVariables,
  CHECKPOINT_FORMAT,
  CHECKPOINT_VERSION,
} from './checkpoint.js';
export type {
  CheckpointInput,
  CheckpointInfo,
  LoadedCheckpoint,
  SaveCheckpointOptions,
  LoadLatestOptions,
} from './checkpoint.js';
export { createRunFolder, openRunFolder, stableStringify } from './run-folder.js';
export type { RunFolder, RunFolderPaths, RunInfo, ResultsFile, CreateRunFolderOptions } from './run-folder.js';
export { runMetadata } from './run-metadata.js';
export type { RunMetadata } from './run-metadata.js';
export { guardFinite, guardFiniteTensors } from './guard.js';
export { createProgress, formatDuration } from './progress.js';
export type { Progress, ProgressOptions, ProgressMode, ProgressStream, ProgressValues } from './progress.js';
export {
  parseConfig,
  readConfigFile,
  applyOverrides,
  parseSetOverrides,
  definePresets,
  resolvePreset,
} from './config.js';
export type { ConfigIssue, Presets, StandardPresetName } from './config.js';
export { runGrid, createInProcessQueue } from './grid.js';
export type { GridCell, GridCellContext, GridOutcome, GridQueue, RunCell, RunGridOptions, InProcessQueueOptions } from './grid.js';
export { shareCoresAmongJobs } from './share-cores.js';
export { modelCacheLock, withFileLock } from './file-lock.js';
export type { FileLockOptions } from './file-lock.js';
export { savePartialTraining, loadPartialTraining } from './partial-training.js';
export type { PartialTrainingCheckpoint, TrainerState } from './partial-training.js';
export { runFolderCheckpoints, runFolderStore, partialCheckpointStore } from './run-folder-checkpoints.js';
export type { PartialCheckpointOptions } from './run-folder-checkpoints.js';
export { runCellInChild, reportErrorToParent, lastErrorLine } from './child-cell.js';
export type { ChildCellOptions } from './child-cell.js';
export { collectResults } from './collect-results.js';
export type { CollectResultsOptions, FoundRun } from './collect-results.js';
