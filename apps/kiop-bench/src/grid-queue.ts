import { join } from 'node:path';
import { z } from 'zod';
import { fingerprint, type GridCellKind } from '@promptkd/grid-bullmq';
import { kiopConfigSchema, participantPresetSchema } from '@promptkd/kiop';
import { cellId, resolveCell, runCellInChild, type KiopCellSpec } from './cells.js';

/**
 * KiOP cells on a `promptkd worker`: each runs in a child process (`promptkd kiop run`) in the worker's grid
 * folder; with a shared folder, pretrained hosts and sources are cached in `<shared>/models`.
 */
export const kiopCellKind: GridCellKind<KiopCellSpec, string> = {
  name: 'kiop',
  schemaVersion: fingerprint([z.toJSONSchema(kiopConfigSchema, { unrepresentable: 'any' }), z.toJSONSchema(participantPresetSchema, { unrepresentable: 'any' })]),
  resolve: (spec) => resolveCell(spec),
  async run(spec, ctx) {
    await runCellInChild(spec, ctx.root, { detached: true, ...(ctx.sharedDir ? { env: { PROMPTKD_MODELS: join(ctx.sharedDir, 'models') } } : {}) });
    return cellId(spec);
  },
};
