import { describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import { FixedLabelMapping, IterativeLabelMapping, randomLabelMappingSlices } from '@promptkd/label-mapping';
import { createLabelMappings } from '../src/label-mappings.js';

const mappingOf = (m: unknown) => (m as { mapping: readonly number[] }).mapping;

describe('createLabelMappings', () => {
  it("'random' is the seeded random slices; 'iterative' starts from them; a list is used as given", () => {
    const random = createLabelMappings('random', 10, [4, 3], 7);
    expect(random.every((m) => m instanceof FixedLabelMapping)).toBe(true);
    expect(random.map(mappingOf)).toEqual(randomLabelMappingSlices(10, [4, 3], 7).map((m) => m.mapping));
    const iterative = createLabelMappings('iterative', 10, [10], 7);
    expect(iterative[0]).toBeInstanceOf(IterativeLabelMapping);
    expect(mappingOf(iterative[0])).toEqual(randomLabelMappingSlices(10, [10], 7)[0]!.mapping);
    expect(createLabelMappings([2, 0, 1], 5, [3], 7).map(mappingOf)).toEqual([[2, 0, 1]]);
  });

  it('refuses a list of the wrong length or outside the host classes, and any non-random choice for several sources', () => {
    expect(() => createLabelMappings([0, 1], 10, [3], 0)).toThrow(ConfigError);
    expect(() => createLabelMappings([0, 1], 10, [3], 0)).toThrow(/one host class for each/);
    expect(() => createLabelMappings([0, 1, 12], 10, [3], 0)).toThrow(/not a mapping into 10 host classes/);
    expect(() => createLabelMappings('iterative', 10, [3, 3], 0)).toThrow(/maps one source; this run has 2/);
  });
});
