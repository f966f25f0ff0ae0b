import { fileURLToPath } from 'node:url';
import { existsSync } from 'node:fs';
import { ResourceUnavailableError } from '@promptkd/core';
import { datasetRegistry } from '@promptkd/datasets/node';
import { applyOverrides, parseConfig, parseSetOverrides, runCellInChild as runChildCell } from '@promptkd/experiments';
import {
  kiopCellName,
  kiopPresets,
  participantPresetSchema,
  participantPresets,
  resolveKiopConfig,
  type KiopConfig,
  type KiopPresetName as PresetName,
  type KiopVariantKey,
  type ParticipantPreset,
} from '@promptkd/kiop/node';

export type { PresetName };
export const PRESET_NAMES = Object.keys(kiopPresets) as PresetName[];

/** One cell of a KiOP grid: a host dataset, its sources, a variant, a preset, a seed. */
export interface KiopCellSpec {
  readonly host: string;
  readonly sources: readonly string[];
  readonly variant: KiopVariantKey;
  readonly preset: PresetName;
  readonly seed: number;
  /** `key.path=value` overrides of the KiOP config. */
  readonly set?: readonly string[];
  /** `key.path=value` overrides of the participant preset (host/source architecture, pretraining, data limits). */
  readonly participants?: readonly string[];
}

/** The run-folder name of a cell: `<host>__<src1>+<src2>/<variant>__s<seed>`. */
export const cellId = (c: KiopCellSpec): string => kiopCellName(c);

/** Resolves and validates a cell's KiOP config (kiop's `resolveKiopConfig`) and participant preset. */
export function resolveCell(c: KiopCellSpec): { config: KiopConfig; bench: ParticipantPreset } {
  const config = resolveKiopConfig({ preset: c.preset, variant: c.variant, seed: c.seed, sources: c.sources.length, overrides: c.set ?? [] });
  const base = participantPresets[c.preset];
  const bench = c.participants?.length
    ? parseConfig(participantPresetSchema, applyOverrides(base, parseSetOverrides(participantPresetSchema, c.participants)), `participant preset '${c.preset}'`)
    : base;
  return { config, bench };
}

/**
 * Checks a cell before any work (backend, data, pretraining): dataset keys, preset, variant, `--set` overrides and
 * weight files. Throws the typed error that says what is wrong and what is valid.
 */
export function checkCell(c: KiopCellSpec, weights: { host?: string; sources?: readonly string[] } = {}): void {
  for (const ds of [c.host, ...c.sources]) datasetRegistry.get(ds);
  resolveCell(c);
  for (const file of [weights.host, ...(weights.sources ?? [])]) {
    if (file !== undefined && !existsSync(file)) throw new ResourceUnavailableError(`weights file ${file} not found.`, { file });
  }
}

/** CLI arguments that re-create a cell in another process (`promptkd kiop run ...`). */
export function cellArgs(c: KiopCellSpec, root: string): string[] {
  return [
    'kiop', 'run',
    '--host', c.host,
    '--source', c.sources.join(','),
    '--variant', c.variant,
    '--preset', c.preset,
    '--seed', String(c.seed),
    '--out', root,
    ...(c.set ?? []).flatMap((s) => ['--set', s]),
    ...(c.participants ?? []).flatMap((s) => ['--participant', s]),
  ];
}

/** The CLI's entry point, for child processes. */
export const CLI_ENTRY = fileURLToPath(new URL('../../cli/src/promptkd.ts', import.meta.url));

/**
 * Runs a cell in a child process (one wasm engine per core): experiments' `runCellInChild`, which rethrows the
 * child's typed error with its code. `env` adds variables (e.g. `PROMPTKD_MODELS` for a shared model cache);
 * `detached`: own process group (a worker's cells ignore the terminal's Ctrl-C).
 */
export function runCellInChild(
  c: KiopCellSpec,
  root: string,
  options: { cli?: string; env?: Readonly<Record<string, string>>; detached?: boolean } = {},
): Promise<void> {
  const cli = options.cli ?? CLI_ENTRY;
  return runChildCell({ cli, args: cellArgs(c, root), label: cellId(c), ...(options.env ? { env: options.env } : {}), ...(options.detached ? { detached: true } : {}) });
}
