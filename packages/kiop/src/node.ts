/*
 * @promptkd/kiop for Node: everything of the main entry plus what reads and writes files: preparing a host or source
 * (load, or pretrain and cache), resolving a preset's config with overrides, running one KiOP cell into a run folder and
 * collecting a grid folder's finished cells. Browser bundles import '@promptkd/kiop'.
 */
export * from './index.js';
export { prepareParticipant, type PreparedParticipant, type PrepareParticipantOptions, type PretrainCheckpointOptions } from './prepare-participant.js';
export { runKiopCell, type KiopCellResults, type KiopPromptArtifactsInput, type RunKiopCellOptions } from './run-kiop-cell.js';
export { resolveKiopConfig, type ResolveKiopConfigOptions } from './resolve-kiop-config.js';
export { collectKiopCells, kiopCellName, type KiopFoundCell } from './grid-layout.js';
