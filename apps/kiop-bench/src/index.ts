export { kiopCommand, runOneCell, runCells, gridCells } from './commands.js';
export { demo, DEMO_VARIANTS } from './demo.js';
export { cellId, checkCell, resolveCell, type KiopCellSpec } from './cells.js';
export { collectCells, kiopTable, writeReport } from './report.js';
export { kiopCellKind } from './grid-queue.js';
