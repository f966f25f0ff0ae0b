import { ConfigError } from '@promptkd/core';

/** The random streams of a continual-distillation run, one per role (and per task for batch orders). */
export const CDL_SEED_ROLES = ['teacherPrompts', 'teacherHead', 'studentPrompts', 'studentHead', 'kdParts', 'teacherBatches', 'studentBatches'] as const;
/** A role of {@link cdlSeed}. */
export type CdlSeedRole = (typeof CDL_SEED_ROLES)[number];

/** Tasks per stream that {@link cdlSeed} keeps apart (2^12). */
const CDL_MAX_TASKS = 4096;

/** murmur3's 32-bit finaliser: a bijection on 32-bit integers that spreads neighbouring inputs. */
function fmix32(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) | 0;
}

/**
 * Deterministic seed of one role (and task) of a run. Same `seed` ⇒ same student prompt init, head and batch
 * order for every KD method (paired comparisons). Every (seed, role, task) gets its own stream: the triple is
 * packed injectively into 32 bits ((seed·7 + role)·4096 + task, injective for |seed| < 74 898) and then mixed
 * by a bijection, so no two roles, tasks or seeds in that range share a seed.
 */
export function cdlSeed(seed: number, role: CdlSeedRole, task = 0): number {
  const r = CDL_SEED_ROLES.indexOf(role);
  if (r < 0) throw new ConfigError(`Unknown seed role '${String(role)}'. Valid: ${CDL_SEED_ROLES.join(', ')}.`, { field: 'role', valid: CDL_SEED_ROLES });
  if (!Number.isInteger(seed)) throw new ConfigError(`The run seed must be an integer, got ${seed}.`, { field: 'seed' });
  if (!Number.isInteger(task) || task < 0 || task >= CDL_MAX_TASKS) {
    throw new ConfigError(`Task index ${task} is outside [0, ${CDL_MAX_TASKS}).`, { field: 'task' });
  }
  const packed = (Math.imul(Math.imul(seed, CDL_SEED_ROLES.length) + r, CDL_MAX_TASKS) + task) | 0;
  return fmix32(packed);
}
