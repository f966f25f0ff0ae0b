export { kdpCommand } from './commands.js';
export { BACKBONE_NAMES, cellArgs, kdpRunCommand } from './cells.js';
export { accFgtTable, pairedTable, perSeedTable, headsTable, claimsTable, KDP_CLAIMS, writeTables, writePlots, report } from './report.js';
export { kdpCellKind } from './grid-queue.js';
