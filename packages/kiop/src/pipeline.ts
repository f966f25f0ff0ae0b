import { ConfigError, Rng, type ClassifierModel, type Normalization } from '@promptkd/core';
import { CMISynthesizer, GreyGenerator, type SynthesisGenerator } from '@promptkd/data-free';
import { BatchLoader, NORMALIZATIONS, evalBatches, kiopTransform, subset, type ImageDataset } from '@promptkd/datasets';
import { SegmentedPrompt } from '@promptkd/visual-prompt';
import { bankAugment } from './bank-augment.js';
import { createLabelMappings } from './label-mappings.js';
import type { KiopConfig } from './config.js';
import type { EvalSet, ImageStream, SynthesizerFactory } from './ports.js';
import { withReferenceNormalization } from './renormalize.js';
import type { KiopContext } from './session.js';

/** A frozen model with the dataset it was trained on. */
export interface KiopParticipant {
  /** Dataset key (`mnist`, `fashionMnist`, `cifar10`, `gtsrb`, ...): picks transforms and augmentation. */
  readonly dataset: string;
  readonly model: ClassifierModel;
  /** Test split (Acc.A / Acc.B). */
  readonly test: ImageDataset;
  /** Training split: the host's for KiOP-B (real data bank A); the sources' only for the real-data reference. */
  readonly train?: ImageDataset;
}

/** Inputs of {@link createKiopContext}. */
export interface KiopPipelineInput {
  readonly config: KiopConfig;
  readonly host: KiopParticipant;
  readonly sources: readonly KiopParticipant[];
  /** A fresh CMI generator per synthesizer (e.g. models' `cmiGenerator`), sized by the config. */
  readonly createGenerator: (options: { nz: number; ngf: number; imageSize: number; channels: number; seed: number }) => SynthesisGenerator & {
    dispose?(): void;
  };
  /** For Vanilla-KD: a fresh network of the host's architecture with `numClasses` outputs. */
  readonly buildHostLike?: (numClasses: number) => ClassifierModel;
  /** Evaluate on at most this many test images per set (a fixed prefix in dataset order). Default: all. */
  readonly evalLimit?: number;
  readonly evalBatchSize?: number;
  /** Synthesis progress. */
  readonly onSynthesisIteration?: (bank: string, iteration: number, loss: number) => void;
}

function evalSet(p: KiopParticipant, limit: number | undefined, batchSize: number): EvalSet {
  const ds = limit !== undefined && limit < p.test.count ? subset(p.test, Int32Array.from({ length: limit }, (_, i) => i)) : p.test;
  return () => evalBatches(ds, { batchSize, transform: kiopTransform(p.dataset, 'test') });
}

function realStream(p: KiopParticipant, config: KiopConfig, role: string, seedOffset: number): ImageStream {
  if (!p.train) {
    throw new ConfigError(`Variant '${config.variant}' needs the ${role}'s training split ('${p.dataset}' train).`, { field: `${role}.train` });
  }
  const make = (seed: number) =>
    new BatchLoader(p.train!, { batchSize: config.batchSize, shuffle: true, cycle: true, seed, transform: kiopTransform(p.dataset, 'train') });
  let loader = make(config.seed + seedOffset);
  return {
    reseed(seed) {
      loader = make(seed);
    },
    next(batchSize) {
      if (batchSize !== config.batchSize) {
        throw new ConfigError(`The ${role} data stream serves batches of ${config.batchSize}, asked for ${batchSize}.`);
      }
      const b = loader.next();
      if (!b) throw new ConfigError(`The ${role} data stream ended (empty training split?).`, { field: `${role}.train` });
      b.y.dispose();
      return b.x;
    },
  };
}

/**
 * The prompt core (`promptSizes[0]`) holds each dataset's images as its KiOP transform gives them (MNIST and
 * Fashion-MNIST resized to 32 px, as the reference) and the synthetic images are drawn at the core's size for models
 * trained on those images: a core of another size is refused here, before any work, instead of with a shape error
 * at the first evaluation. Participants without test images (stand-ins) are not checked.
 */
function checkCoreSize(core: number, participants: readonly KiopParticipant[]): void {
  for (const p of participants) {
    if (!(p.test?.count > 0)) continue;
    let side: readonly number[] = [];
    for (const { x, y } of evalBatches(subset(p.test, [0]), { batchSize: 1, transform: kiopTransform(p.dataset, 'test') })) {
      side = x.shape.slice(1, 3);
      x.dispose();
      y.dispose();
    }
    if (side[0] === core && side[1] === core) continue;
    throw new ConfigError(
      `promptSizes[0] = ${core} is the prompt core, which holds the ${p.dataset} images as the dataset's transform gives ` +
        `them: ${side.join('×')} px. Set promptSizes[0] to ${side[0]} (the canvas, the last size, may grow), or use ` +
        `models trained on ${core}-px images with a transform that gives them.`,
      { field: 'promptSizes', value: core, imageSize: side, dataset: p.dataset },
    );
  }
}

/**
 * Builds a {@link KiopContext} from frozen models, their datasets and a config: the nested prompt
 * (`promptSizes`), the random label mapping(s) (disjoint slices for several sources), CMI synthesizers, test
 * sets, the real host stream (KiOP-B) and the bank augmentations. Returns a `dispose` for what it created.
 */
export function createKiopContext(input: KiopPipelineInput): { ctx: KiopContext; dispose(): void } {
  const { config, host, sources } = input;
  const imageSize = config.promptSizes[0]!;
  checkCoreSize(imageSize, [host, ...sources]);
  const rng = Rng.fromSeed(config.seed);
  const prompt = new SegmentedPrompt({ sizes: config.promptSizes, channels: host.model.inputChannels });
  const mappings = createLabelMappings(
    config.labelMapping,
    host.model.numClasses,
    sources.map((s) => s.model.numClasses),
    config.seed,
  );
  const referenceNorm: Normalization | undefined =
    config.fidelity.normalization === 'reference'
      ? (NORMALIZATIONS as Record<string, Normalization>)[sources[0]!.dataset === 'fashionMnist' ? 'mnist' : sources[0]!.dataset] ??
        NORMALIZATIONS.none
      : undefined;
  const generators: { dispose?(): void }[] = [];
  const s = config.synthesis;
  const createSynthesizer: SynthesizerFactory = (req) => {
    const channels = req.teacher.inputChannels;
    const grey = s.colour === 'grey' || (s.colour === 'dataset' && [host, ...sources].find((p) => p.model === req.teacher)?.test.channels === 1);
    const drawn = input.createGenerator({ nz: s.nz, ngf: s.ngf, imageSize, channels: grey ? 1 : channels, seed: req.rng.seed() });
    const generator = grey ? new GreyGenerator(drawn, channels) : drawn;
    generators.push(generator);
    const teacher = referenceNorm ? withReferenceNormalization(req.teacher, referenceNorm) : req.teacher;
    return new CMISynthesizer({
      teacher,
      generator,
      student: req.adversary,
      config: {
        batchSize: config.batchSize,
        iterations: s.gSteps,
        nz: s.nz,
        lrGenerator: s.lrG,
        lrHead: s.lrG,
        bn: s.bn,
        oh: s.oh,
        adv: s.adv,
        cr: s.cr,
        tv: s.tv ?? 0,
        crTemperature: s.crT,
        bankCapacity: s.bankCapacity,
        negatives: s.nNeg,
        headDim: s.headOut,
        headHidden: s.headHidden === 'feature' ? undefined : s.headHidden,
        resetGenerator: s.resetGenerator ?? true,
        seed: req.rng.seed(),
      },
      onIteration: input.onSynthesisIteration
        ? (it, losses) => input.onSynthesisIteration!(req.bank, it, losses.total)
        : undefined,
    });
  };
  // Batch-statistics BN (reference mode) makes accuracy depend on the evaluation batch: use the training batch, as the
  // reference's evaluators do.
  const evalBatch = input.evalBatchSize ?? (config.fidelity.hostBnTrainMode ? config.batchSize : 256);
  const ctx: KiopContext = {
    config,
    host: host.model,
    sources: sources.map((p) => p.model),
    prompt,
    mappings,
    hostTest: evalSet(host, input.evalLimit, evalBatch),
    sourceTests: sources.map((p) => evalSet(p, input.evalLimit, evalBatch)),
    hostTrain: config.variant === 'kiopB' || config.variant === 'realDataRef' ? realStream(host, config, 'host', 7) : undefined,
    sourceTrain: config.variant === 'realDataRef' ? sources.map((p, i) => realStream(p, config, 'source', 11 + i)) : undefined,
    hostAugment: bankAugment(host.dataset),
    sourceAugment: sources.map((p) => bankAugment(p.dataset)),
    createSynthesizer,
    buildHostLike: input.buildHostLike,
    rng,
  };
  return {
    ctx,
    dispose() {
      prompt.dispose();
      for (const g of generators) g.dispose?.();
    },
  };
}
