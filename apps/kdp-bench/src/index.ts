export { kdpCommand, runKdpGrid, report } from './commands.js';
export { benchPresets, benchPresetSchema, resolvePresetConfig, parseSplit, PRESET_NAMES, type BenchPreset, type PresetName } from './bench-presets.js';
export { cellId, groupName, resolveCell, cellArgs, runOneCell, prepareBackbones, type KdpCellSpec } from './cells.js';
export { accFgtTable, pairedTable, perSeedTable, headsTable, claimsTable, KDP_CLAIMS, writeTables, writePlots } from './report.js';
export { kdpCellKind, runKdpGridOnQueue } from './grid-queue.js';
