import { createRegistry, type LabelMapping, type Registry } from '@promptkd/core';
import { frequencyLabelMapping, frequencyLabelMappingFrom, type ClassEvidence } from './frequency-label-mapping.js';
import { IterativeLabelMapping, type IterativeLabelMappingConfig } from './iterative-label-mapping.js';
import { FixedLabelMapping } from './label-mapping.js';
import { randomLabelMapping, type RandomLabelMappingConfig } from './random-label-mapping.js';

/** Config of the `frequency` entry: a count matrix, or the evidence to build it from. */
export type FrequencyLabelMappingConfig =
  | { readonly counts: readonly (readonly number[])[] }
  | {
      readonly hostPredictions: ClassEvidence;
      readonly targetLabels: ClassEvidence;
      readonly hostClasses: number;
      readonly sourceClasses: number;
    };

/** Config of the `fixed` entry: an explicit π. */
export interface FixedLabelMappingConfig {
  readonly mapping: readonly number[];
  readonly hostClasses: number;
}

/** Config type of every registered label mapping, by key (extend with declaration merging). */
export interface LabelMappingConfigs {
  random: RandomLabelMappingConfig;
  frequency: FrequencyLabelMappingConfig;
  iterative: IterativeLabelMappingConfig;
  fixed: FixedLabelMappingConfig;
}

/** A label-mapping factory plus a small example config used by the conformance test. */
export interface LabelMappingFactory<C = never> {
  (config: C): LabelMapping & { toJSON(): { key: string; hostClasses: number; mapping: number[] } };
  readonly example: C;
}

function define<C>(create: (config: C) => ReturnType<LabelMappingFactory<C>>, example: C): LabelMappingFactory<C> {
  return Object.assign((config: C) => create(config), { example });
}

/** Every label-mapping strategy: `labelMappingRegistry.get('random').create({hostClasses: 43, sourceClasses: 10})`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- entries have different config types; createLabelMapping() types them
export const labelMappingRegistry: Registry<LabelMappingFactory<any>> = createRegistry<LabelMappingFactory<any>>(
  'label mapping',
);

const ILM_VP = {
  citation: 'Chen et al., CVPR 2023 (ILM-VP)',
  title: 'Understanding and Improving Visual Prompting: A Label-Mapping Perspective',
  url: 'https://github.com/OPTML-Group/ILM-VP',
};

labelMappingRegistry.register('random', {
  description: 'Seeded permutation of the host classes, first K_source entries (fixed for the run)',
  paper: {
    citation: 'Li et al., ECCV 2024 (KiOP)',
    title: 'Encapsulating Knowledge in One Prompt',
    url: 'https://github.com/LiQiiiii/Encapsulating-Knowledge-In-One-Prompt',
  },
  create: define<RandomLabelMappingConfig>((c) => randomLabelMapping(c), { hostClasses: 7, sourceClasses: 4, seed: 3 }),
});
labelMappingRegistry.register('frequency', {
  description: 'Greedy one-to-one assignment on the host-prediction × target-label count matrix',
  paper: ILM_VP,
  create: define<FrequencyLabelMappingConfig>(
    (c) =>
      'counts' in c
        ? frequencyLabelMapping(c.counts)
        : frequencyLabelMappingFrom(c.hostPredictions, c.targetLabels, c),
    { counts: [[5, 1, 0], [4, 6, 2], [0, 7, 3], [1, 0, 2]] },
  ),
});
labelMappingRegistry.register('iterative', {
  description: 'Frequency mapping recomputed every k epochs from the prompted host predictions',
  paper: ILM_VP,
  create: define<IterativeLabelMappingConfig>((c) => new IterativeLabelMapping(c), {
    hostClasses: 6,
    sourceClasses: 3,
    interval: 2,
    seed: 1,
  }),
});
labelMappingRegistry.register('fixed', {
  description: 'An explicit, validated π (e.g. loaded from a prompt artifact)',
  create: define<FixedLabelMappingConfig>((c) => new FixedLabelMapping(c.mapping, c.hostClasses), {
    mapping: [4, 0, 2],
    hostClasses: 5,
  }),
});

/** Creates a label mapping by registry key (config type-checked per key). */
export function createLabelMapping<K extends keyof LabelMappingConfigs>(
  key: K,
  config: LabelMappingConfigs[K],
): ReturnType<LabelMappingFactory<LabelMappingConfigs[K]>>;
export function createLabelMapping(key: string, config: unknown): ReturnType<LabelMappingFactory<unknown>>;
export function createLabelMapping(key: string, config: unknown): ReturnType<LabelMappingFactory<unknown>> {
  const factory = labelMappingRegistry.get(key).create as (c: unknown) => ReturnType<LabelMappingFactory<unknown>>;
  return factory(config);
}
