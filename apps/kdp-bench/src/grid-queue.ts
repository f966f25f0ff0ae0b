import { join } from 'node:path';
import { z } from 'zod';
import { fingerprint, type GridCellKind } from '@promptkd/grid-bullmq';
import { cdlRunName, kdpRunPresetSchema, resolveCdlCell, runCdlCellInChild, type CdlCellSpec } from '@promptkd/kdp/node';
import { kdpRunCommand } from './cells.js';

const folders = (spec: CdlCellSpec): string[] => {
  const preset = resolveCdlCell(spec);
  return spec.kd.map((kd) => cdlRunName(preset, spec.cl, kd, spec.seed));
};

/**
 * KDP cells on a `promptkd worker`: one teacher run shared by the cell's KD methods, in a child process
 * (`promptkd kdp run`); each KD method's run folder comes back to the producer. With a shared folder, pretrained
 * backbones are cached in `<shared>/models`. Weight and data paths in a spec must exist on the workers.
 */
export const kdpCellKind: GridCellKind<CdlCellSpec, string[]> = {
  name: 'kdp',
  schemaVersion: fingerprint(z.toJSONSchema(kdpRunPresetSchema, { unrepresentable: 'any' })),
  resolve: (spec) => resolveCdlCell(spec),
  outputs: (spec) => folders(spec),
  async run(spec, ctx) {
    await runCdlCellInChild(spec, ctx.root, { ...kdpRunCommand, detached: true, ...(ctx.sharedDir ? { env: { PROMPTKD_MODELS: join(ctx.sharedDir, 'models') } } : {}) });
    return folders(spec);
  },
};
