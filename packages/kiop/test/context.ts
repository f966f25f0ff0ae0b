import { Rng } from '@promptkd/core';
import { IterativeLabelMapping, randomLabelMappingSlices } from '@promptkd/label-mapping';
import { SegmentedPrompt } from '@promptkd/visual-prompt';
import { kiopConfigSchema, kiopPresets, type KiopConfig, type KiopContext, type KiopVariantKey } from '@promptkd/kiop';
import { NoiseSynthesizer, TinyClassifier, randomEvalSet } from './fakes.js';

/** A wiring-test context: tiny fake models, noise synthesizers, smoke preset. */
export function fakeContext(variant: KiopVariantKey, options: { sources?: number; overrides?: Partial<KiopConfig> } = {}) {
  const nSources = options.sources ?? (variant === 'multiModel' ? 2 : 1);
  const sizes = nSources === 2 ? [32, 36, 40, 44] : [32, 36, 40];
  const config: KiopConfig = kiopConfigSchema.parse({
    ...kiopPresets.smoke,
    promptSizes: sizes,
    variant,
    seed: 0,
    epochs: 2,
    kdSteps: 2,
    batchSize: 4,
    ...options.overrides,
  });
  const host = new TinyClassifier('host', 10, 1);
  const sources = Array.from({ length: nSources }, (_, i) => new TinyClassifier(`source${i}`, 4, 10 + i));
  const prompt = new SegmentedPrompt({ sizes });
  const synths: NoiseSynthesizer[] = [];
  const ctx: KiopContext = {
    config,
    host,
    sources,
    prompt,
    mappings: randomLabelMappingSlices(10, sources.map((s) => s.numClasses), 0).map((m) =>
      config.labelMapping === 'iterative' ? new IterativeLabelMapping({ hostClasses: 10, sourceClasses: m.mapping.length, initial: m.mapping }) : m,
    ),
    hostTest: randomEvalSet(6, 10, 100),
    sourceTests: sources.map((_, i) => randomEvalSet(6, 4, 200 + i)),
    hostTrain: { next: (n) => new NoiseSynthesizer().sample(n, Rng.fromSeed(n)) },
    createSynthesizer: () => {
      const s = new NoiseSynthesizer();
      synths.push(s);
      return s;
    },
    buildHostLike: (k) => new TinyClassifier('hostCopy', k, 1),
    rng: Rng.fromSeed(0),
  };
  const dispose = () => {
    host.dispose();
    for (const s of sources) s.dispose();
    prompt.dispose();
  };
  return { ctx, host, sources, prompt, synths, dispose };
}
