import type { ImageBankStore } from './image-bank.js';
import { type ClassifierModel, ConfigError, type Synthesizer, createRegistry } from '@promptkd/core';
import { type CmiConfig, type CmiPresetName } from './cmi-config.js';
import { CMISynthesizer, type StudentFn } from './cmi-synthesizer.js';
import { type DeepInversionConfig, type DeepInversionPresetName, DeepInversionSynthesizer } from './deep-inversion.js';
import type { SynthesisGenerator } from './generator.js';

/** Options every registered synthesizer factory accepts. */
export interface SynthesizerFactoryOptions {
  readonly teacher: ClassifierModel;
  readonly student?: StudentFn;
  /** Required by generator-based synthesizers (`cmi`). */
  readonly generator?: SynthesisGenerator;
  /** Preset name (`paper`, `cpu`, `smoke`). */
  readonly preset?: string;
  /** Overrides of the preset (the entry's own config type). */
  readonly config?: Readonly<Record<string, unknown>>;
  readonly bankStore?: ImageBankStore;
  readonly resumeBank?: boolean;
}

export type SynthesizerFactory = (options: SynthesizerFactoryOptions) => Synthesizer;

/** Registry of data-free synthesizers. */
export const synthesizerRegistry = createRegistry<SynthesizerFactory>('synthesizer');

synthesizerRegistry.register('cmi', {
  description: 'Contrastive Model Inversion: generator re-initialised per round, BN-stats + class prior + adversarial + contrastive losses',
  paper: { citation: 'Fang et al., 2021', title: 'Contrastive Model Inversion for Data-Free Knowledge Distillation', url: 'https://arxiv.org/abs/2105.08584' },
  create: (o) => {
    if (!o.generator) {
      throw new ConfigError("Synthesizer 'cmi' needs a generator (e.g. cmiGenerator from @promptkd/models).", { field: 'generator' });
    }
    return new CMISynthesizer({
      teacher: o.teacher,
      student: o.student,
      generator: o.generator,
      preset: o.preset as CmiPresetName | undefined,
      config: o.config as Partial<CmiConfig> | undefined,
      bankStore: o.bankStore,
      resumeBank: o.resumeBank,
    });
  },
});

synthesizerRegistry.register('deepInversion', {
  description: 'DeepInversion: optimise pixels against BN statistics + class prior + total variation + l2',
  paper: { citation: 'Yin et al., 2020', title: 'Dreaming to Distill: Data-free Knowledge Transfer via DeepInversion', url: 'https://arxiv.org/abs/1912.08795' },
  create: (o) =>
    new DeepInversionSynthesizer({
      teacher: o.teacher,
      student: o.student,
      preset: o.preset as DeepInversionPresetName | undefined,
      config: o.config as Partial<DeepInversionConfig> | undefined,
      bankStore: o.bankStore,
      resumeBank: o.resumeBank,
    }),
});
