/*
 * @promptkd/kdp for Node: everything of the main entry plus what runs a CDL experiment on disk — the dataset stream
 * with its pretraining pool, the cached (or in-app pretrained) frozen backbones, a cell's runs in run folders with
 * checkpoints, a named preset resolved with a split and overrides, a grid of cells in child processes, and the
 * collector of a grid's results. Browser bundles import '@promptkd/kdp'.
 */
export * from './index.js';
export { loadCdlData, type LoadCdlDataOptions } from './cdl-data.js';
export {
  prepareCdlBackbone,
  prepareCdlBackbones,
  cdlBackboneCacheFile,
  type CdlRole,
  type PreparedCdlBackbone,
  type PrepareCdlBackboneOptions,
  type PrepareCdlBackbonesOptions,
  type PretrainCheckpointOptions,
} from './cdl-backbone.js';
export { runCdlCell, type RunCdlCellOptions } from './run-cdl-cell.js';
export { collectCdlRuns } from './collect-cdl-runs.js';
export { resolveKdpPreset, type ResolveKdpPresetOptions } from './resolve-kdp-preset.js';
export { resolveCdlCell, cdlCellRunOptions } from './resolve-cdl-cell.js';
export { runCdlCellInChild, type CdlChildCommand, type RunCdlCellInChildOptions } from './run-cdl-cell-in-child.js';
export { runCdlGrid, type RunCdlGridOptions } from './run-cdl-grid.js';
