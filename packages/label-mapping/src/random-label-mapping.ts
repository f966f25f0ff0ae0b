import { ConfigError, Rng } from '@promptkd/core';
import { InvalidLabelMappingError } from './errors.js';
import { FixedLabelMapping } from './label-mapping.js';

/** Config of {@link randomLabelMapping}. */
export interface RandomLabelMappingConfig {
  /** K_host (K_A in KiOP): classes of the host model. */
  readonly hostClasses: number;
  /** K_source (K_B): classes of the source task, ≤ K_host. */
  readonly sourceClasses: number;
  /** Seed of the permutation (default 0, as KiOP's `torch.manual_seed(0)`; the permutation itself differs from torch's). */
  readonly seed?: number;
}

function checkCount(value: unknown, field: string): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new ConfigError(`Label mapping: '${field}' must be a positive integer, got ${JSON.stringify(value)}.`, {
      field,
      value,
    });
  }
  return value;
}

/**
 * Random label mapping (RLM) as in KiOP: draw a seeded permutation of the host classes once and keep its
 * first K_source entries, π = perm[0:K_source]. Fixed for the whole run.
 */
export function randomLabelMapping(config: RandomLabelMappingConfig): FixedLabelMapping {
  const [mapping] = randomLabelMappingSlices(config.hostClasses, [config.sourceClasses], config.seed ?? 0);
  return mapping as FixedLabelMapping;
}

/**
 * Disjoint random label mappings for several sources sharing one host (KiOP triple): one seeded permutation of
 * the host classes; source 1 gets entries `[0, K_1)`, source 2 gets `[K_1, K_1+K_2)`, … Needs K_host ≥ ΣK_i.
 * With a single entry this equals {@link randomLabelMapping} for the same seed.
 */
export function randomLabelMappingSlices(
  hostClasses: number,
  sourceClasses: readonly number[],
  seed = 0,
): FixedLabelMapping[] {
  checkCount(hostClasses, 'hostClasses');
  sourceClasses.forEach((k, i) => checkCount(k, `sourceClasses[${i}]`));
  if (!Number.isInteger(seed)) throw new ConfigError(`Label mapping: 'seed' must be an integer, got ${seed}.`, { field: 'seed' });
  const total = sourceClasses.reduce((a, b) => a + b, 0);
  if (total > hostClasses) {
    throw new InvalidLabelMappingError(
      'too-many-source-classes',
      `The sources have ${total} classes in total (${sourceClasses.join(' + ')}) but the host model only ` +
        `${hostClasses}; disjoint label mappings need K_host ≥ ΣK_source.`,
      { sourceClasses: [...sourceClasses], hostClasses },
    );
  }
  const perm = Rng.fromSeed(seed).permutation(hostClasses);
  const out: FixedLabelMapping[] = [];
  let offset = 0;
  for (const k of sourceClasses) {
    out.push(new FixedLabelMapping(perm.slice(offset, offset + k), hostClasses, 'random'));
    offset += k;
  }
  return out;
}
