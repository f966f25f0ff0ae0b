export { kdpCommand, runKdpGrid, report } from './commands.js';
export { benchPresets, benchPresetSchema, resolvePresetConfig, parseSplit, PRESET_NAMES, type BenchPreset, type PresetName } from './bench-presets.js';
export { cellId, groupName, resolveCell, cellArgs, type KdpCellSpec } from './cells.js';
export { runOneCell, prepareBackbones, cdlConfig, type CellResults } from './run-cell.js';
export { rowLabel, collectCells, accFgtTable, pairedTable, perSeedTable, headsTable, claimsTable, KDP_CLAIMS, writeTables, writePlots, type FoundCell } from './report.js';
export { loadBenchData } from './data.js';
export { prepareBackbone, backboneCacheFile } from './backbones.js';
export { kdpCellKind, runKdpGridOnQueue } from './grid-queue.js';
