import { ConfigError, type LabelMapping } from '@promptkd/core';
import { FixedLabelMapping, IterativeLabelMapping, randomLabelMappingSlices } from '@promptkd/label-mapping';
import type { KiopConfig } from './config.js';

/** A label mapping given as a list, checked against the host's and the source's class counts. */
function givenMapping(mapping: readonly number[], hostClasses: number, sourceClasses: number): FixedLabelMapping {
  if (mapping.length !== sourceClasses) {
    throw new ConfigError(`labelMapping lists ${mapping.length} host classes; the source has ${sourceClasses} classes, give one host class for each.`, {
      field: 'labelMapping',
    });
  }
  try {
    return new FixedLabelMapping(mapping, hostClasses, 'given');
  } catch (e) {
    throw new ConfigError(`labelMapping ${JSON.stringify(mapping)} is not a mapping into ${hostClasses} host classes: ${(e as Error).message}`, {
      field: 'labelMapping',
    });
  }
}

/** The named choices of `config.labelMapping`, from the seeded random slices (one per source) they start from. */
const namedMappings: Record<'random' | 'iterative', (slices: FixedLabelMapping[], hostClasses: number) => LabelMapping[]> = {
  // the paper and the reference code: a seeded random mapping, fixed for the run
  random: (slices) => slices,
  // ILM-VP's frequency mapping: starts from the random one; the session recomputes it before each knowledge-storing period
  iterative: (slices, hostClasses) =>
    slices.map((m) => new IterativeLabelMapping({ hostClasses, sourceClasses: m.mapping.length, initial: m.mapping })),
};

/**
 * The run's label mappings LM_k, one per source (kiop-spec §2.4): `random` (disjoint host-class slices drawn with
 * `seed`), `iterative`, or a given list π for a single source.
 */
export function createLabelMappings(
  choice: KiopConfig['labelMapping'],
  hostClasses: number,
  sourceClasses: readonly number[],
  seed: number,
): LabelMapping[] {
  if (choice !== 'random' && sourceClasses.length > 1) {
    throw new ConfigError(
      `labelMapping ${JSON.stringify(choice)} maps one source; this run has ${sourceClasses.length} (their disjoint host-class slices need the 'random' mapping).`,
      { field: 'labelMapping' },
    );
  }
  if (typeof choice !== 'string') return [givenMapping(choice, hostClasses, sourceClasses[0]!)];
  return namedMappings[choice](randomLabelMappingSlices(hostClasses, sourceClasses, seed), hostClasses);
}
