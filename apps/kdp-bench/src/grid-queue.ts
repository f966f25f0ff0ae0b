import { join } from 'node:path';
import { z } from 'zod';
import type { GridOutcome } from '@promptkd/experiments';
import { fingerprint, runGridOnQueue, type GridCellKind, type QueueCliOptions } from '@promptkd/grid-bullmq';
import { benchPresetSchema } from './bench-presets.js';
import { cellId, groupName, resolveCell, runCellInChild, type KdpCellSpec } from './cells.js';

const folders = (spec: KdpCellSpec): string[] => {
  const preset = resolveCell(spec);
  return spec.kd.map((kd) => cellId(preset, spec.cl, kd, spec.seed));
};

/**
 * KDP groups on a `promptkd worker`: one teacher run shared by the group's KD methods, in a child process
 * (`promptkd kdp run`); each KD method's run folder comes back to the producer. With a shared folder, pretrained
 * backbones are cached in `<shared>/models`. Weight and data paths in a spec must exist on the workers.
 */
export const kdpCellKind: GridCellKind<KdpCellSpec, string[]> = {
  name: 'kdp',
  schemaVersion: fingerprint(z.toJSONSchema(benchPresetSchema, { unrepresentable: 'any' })),
  resolve: (spec) => resolveCell(spec),
  outputs: (spec) => folders(spec),
  async run(spec, ctx) {
    await runCellInChild(spec, ctx.root, { detached: true, ...(ctx.sharedDir ? { env: { PROMPTKD_MODELS: join(ctx.sharedDir, 'models') } } : {}) });
    return folders(spec);
  },
};

/** KDP groups on BullMQ workers (job id `<grid>/<dataset split>/<cl>/s<seed>`): grid-bullmq's `runGridOnQueue`. */
export function runKdpGridOnQueue(
  groups: readonly KdpCellSpec[],
  root: string,
  o: QueueCliOptions & { readonly grid?: string; readonly detach?: boolean },
  log: (line: string) => void,
): Promise<GridOutcome<KdpCellSpec, string[]>[] | undefined> {
  const cells = groups.map((g) => ({ id: `${groupName(resolveCell(g))}/${g.cl}/s${g.seed}`, config: g }));
  return runGridOnQueue({ kind: kdpCellKind, cells, root, queue: o, log, noun: 'groups' });
}
