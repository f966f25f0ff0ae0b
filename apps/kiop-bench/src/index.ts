export { kiopCommand, runOneCell, runCells, gridCells } from './commands.js';
export { demo, DEMO_VARIANTS } from './demo.js';
export { benchPresets, benchPresetSchema, type BenchPreset } from './bench-presets.js';
export { cellId, checkCell, resolveCell, type KiopCellSpec } from './cells.js';
export { collectCells, kiopTable, writeReport } from './report.js';
export { kiopCellKind, runKiopGridOnQueue, type QueueGridOptions } from './grid-queue.js';
