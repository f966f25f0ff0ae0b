import * as tf from '@tensorflow/tfjs';
import { ConfigError, type Resumable, type Synthesizer } from '@promptkd/core';
import { IterativeLabelMapping } from '@promptkd/label-mapping';
import { bankAgreement } from './bank-agreement.js';
import { bankStream } from './bank-stream.js';
import { bankAlignment, MissingFeaturesError, modelFeatures, realClassMeans, type ClassMeans } from './feature-alignment.js';
import { effectiveClasses, evaluatePredictions, top1Accuracy } from './evaluate.js';
import { promptBnStatistics } from './prompt-bn-statistics.js';
import { updateIterativeMapping } from './iterative-mapping-update.js';
import { epochSeed, reseedAll } from './reseed.js';
import { FusedModels } from './fusion.js';
import { preservationTerm, sourceTerm } from './kl-terms.js';
import type { ImageStream } from './ports.js';
import { sourceAccuracyName } from './source-accuracy-name.js';
import type { KiopContext, VariantSession } from './session.js';

/** Where the host-preservation data (data bank A) comes from. */
export type PreservationData = 'none' | 'real' | 'synthetic';

/** Where the source images come from: CMI banks (every KiOP variant) or the sources' real training images. */
export type SourceData = 'synthetic' | 'real';

/** Images the prompt-specific BN statistics are measured on (rounded up to whole training batches). */
export const PROMPT_BN_IMAGES = 512;

/** Images per per-epoch diagnostic when the config does not say (`diagnosticImages`). */
export const DIAGNOSTIC_IMAGES = 256;

/**
 * The session shared by the prompt variants (KiOP-T, KiOP-B, KiOP-BF, multi-model): host and sources frozen,
 * only the nested prompt trains on
 * `L = α·L_A + β·Σ_k L_k` (Eq. 8), L_A from bank A (absent for KiOP-T), L_k from synthetic bank k.
 */
export function createPromptSession(
  ctx: KiopContext,
  preservation: PreservationData,
  sourceData: SourceData = 'synthetic',
): VariantSession {
  const { config, host, sources, prompt } = ctx;
  if (sources.length !== ctx.mappings.length || sources.length !== ctx.sourceTests.length) {
    throw new ConfigError(
      `Got ${sources.length} source model(s), ${ctx.mappings.length} label mapping(s) and ${ctx.sourceTests.length} ` +
        'source test set(s); give one of each per source.',
      { field: 'sources' },
    );
  }
  if (preservation === 'real' && !ctx.hostTrain) {
    throw new ConfigError(`Variant '${config.variant}' needs real host training data (hostTrain).`, { field: 'hostTrain' });
  }
  if (sourceData === 'real' && ctx.sourceTrain?.length !== sources.length) {
    throw new ConfigError(`Variant '${config.variant}' needs real training images of every source (sourceTrain).`, {
      field: 'sourceTrain',
    });
  }
  host.setTrainable(false);
  for (const s of sources) s.setTrainable(false);
  const fused = new FusedModels(host, prompt, ctx.mappings, config.fidelity);
  const T = config.temperature;

  const synthesizers: { bank: string; synthesizer: Synthesizer }[] = [];
  const sourceStreams: ImageStream[] = sources.map((teacher, i) => {
    if (sourceData === 'real') return ctx.sourceTrain![i]!;
    const k = i + 1;
    const synthesizer = ctx.createSynthesizer({
      bank: String.fromCharCode(65 + k), // B, C, ...
      teacher,
      adversary: (x) => fused.smk(k, x),
      numClasses: teacher.numClasses,
      rng: ctx.rng.fork(),
    });
    synthesizers.push({ bank: String.fromCharCode(65 + k), synthesizer });
    return bankStream(synthesizer, ctx.rng.fork(), ctx.sourceAugment?.[i]);
  });
  let hostStream: ImageStream | undefined;
  if (preservation === 'real') hostStream = ctx.hostTrain;
  if (preservation === 'synthetic') {
    const synthesizer = ctx.createSynthesizer({
      bank: 'A',
      teacher: host,
      adversary: (x) => fused.sma(x),
      numClasses: host.numClasses,
      rng: ctx.rng.fork(),
    });
    synthesizers.unshift({ bank: 'A', synthesizer });
    hostStream = bankStream(synthesizer, ctx.rng.fork(), ctx.hostAugment);
  }

  /** Per source, the class means of its (frozen) features on its real test images, once computed. */
  const sourceMeans: (ClassMeans | undefined)[] = [];
  const iterative = ctx.mappings.map((m) => (m instanceof IterativeLabelMapping ? m : undefined));
  /** The current iterative mappings as JSON (checkpoints): π per source, null for fixed ones. */
  const mappingState: Resumable<(number[] | null)[]> = {
    exportState: async () => ({ tensors: {}, state: iterative.map((m) => (m ? [...m.mapping] : null)) }),
    importState: async (saved) => {
      const pis = saved.state;
      if (!Array.isArray(pis) || pis.length !== iterative.length) {
        throw new ConfigError(`The saved label mappings (${JSON.stringify(pis)}) do not match this run's ${iterative.length} source(s).`, {
          field: 'resume',
        });
      }
      iterative.forEach((m, i) => {
        const pi = pis[i];
        if (m && Array.isArray(pi)) m.restore(pi);
      });
    },
  };

  /** The step's images: N rows from each source bank (B, C, ...) and from the host bank (A) when there is one. */
  const drawBatch = (): Record<string, tf.Tensor4D> => {
    const batch: Record<string, tf.Tensor4D> = {};
    sources.forEach((_, i) => (batch[String.fromCharCode(66 + i)] = sourceStreams[i]!.next(config.batchSize)));
    if (hostStream) batch.A = hostStream.next(config.batchSize);
    return batch;
  };
  /** L_k = β·KL_τ(f_k(x_k) ‖ SM_k(x_k)) per source and L_A = α·KL_τ(f_A(x_A) ‖ SMA(x_A)), each a mean over the rows. */
  const batchLossTerms = (batch: Readonly<Record<string, tf.Tensor4D>>): Record<string, tf.Scalar> => {
    const terms: Record<string, tf.Scalar> = {};
    sources.forEach((teacher, i) => {
      const x = batch[String.fromCharCode(66 + i)]!;
      const t = teacher.apply(x, { training: false }).logits;
      terms[`L_${String.fromCharCode(66 + i)}`] = tf.mul(config.beta, sourceTerm(fused.smk(i + 1, x), t, T));
    });
    const xA = batch.A;
    if (xA) {
      const plain = fused.plainHostLogits(xA);
      terms.L_A = tf.mul(config.alpha, preservationTerm(fused.sma(xA), plain, { temperature: T, order: config.fidelity.preservationKl }));
    }
    return terms;
  };

  return {
    synthesizers,
    baseLr: config.lr,
    trainableVariables: () => prompt.trainableVariables(),
    lossTerms() {
      const batch = drawBatch();
      try {
        return batchLossTerms(batch);
      } finally {
        tf.dispose(Object.values(batch));
      }
    },
    drawBatch,
    batchLossTerms,
    ...(iterative.some(Boolean)
      ? {
          extraState: mappingState,
          beforeStoring(epoch: number) {
            // data-free ILM: recompute each LM_k from the images the prompt is about to train on
            const out: Record<string, number> = {};
            iterative.forEach((m, i) => {
              if (!m) return;
              const k = i + 1;
              const images = sourceData === 'real' ? ctx.sourceTrain![i]! : synthesizers.find((s) => s.bank === String.fromCharCode(65 + k))!.synthesizer;
              out[`labelMappingChanged${String.fromCharCode(65 + k)}`] = updateIterativeMapping(
                m,
                images,
                sources[i]!,
                (x) => fused.promptedHostLogits(k, x),
                sourceData === 'real' ? undefined : ctx.sourceAugment?.[i],
                { n: Math.ceil(512 / config.batchSize) * config.batchSize, batchSize: config.batchSize, seed: epochSeed(config.seed, epoch, 200 + k), epoch },
              );
            });
            return out;
          },
        }
      : {}),
    async evaluate() {
      const out: Record<string, number> = { accA: await top1Accuracy((x) => fused.sma(x), ctx.hostTest) };
      for (let k = 1; k <= sources.length; k++) {
        const { accuracy, predicted } = await evaluatePredictions((x) => fused.smk(k, x), ctx.sourceTests[k - 1]!);
        out[sourceAccuracyName(k)] = accuracy;
        out[`predictedClasses${String.fromCharCode(65 + k)}`] = effectiveClasses(predicted);
      }
      return out;
    },
    async diagnostics(epoch) {
      // images drawn with a seed of their own per epoch, so a resumed run reports the same numbers
      const seed = epochSeed(config.seed, epoch, 300);
      const n = Math.ceil((config.diagnosticImages ?? DIAGNOSTIC_IMAGES) / config.batchSize) * config.batchSize;
      // Does the prompted host agree with each teacher on the bank it trains on?
      const out: Record<string, number> = {};
      for (const { bank, synthesizer } of synthesizers) {
        const k = bank === 'A' ? 0 : bank.charCodeAt(0) - 65;
        const teacher = k === 0 ? host : sources[k - 1]!;
        const augment = k === 0 ? ctx.hostAugment : ctx.sourceAugment?.[k - 1];
        const prompted = k === 0 ? (x: tf.Tensor4D) => fused.sma(x) : (x: tf.Tensor4D) => fused.smk(k, x);
        out[`bankAgreement${bank}`] = bankAgreement(synthesizer, teacher, prompted, augment, {
          n,
          batchSize: config.batchSize,
          seed,
        });
      }
      // the real-data reference: agreement on the real training images it trains on (streams restart every epoch)
      if (sourceData === 'real') {
        sources.forEach((teacher, i) => {
          out[`bankAgreement${String.fromCharCode(66 + i)}`] = bankAgreement(ctx.sourceTrain![i]!, teacher, (x) => fused.smk(i + 1, x), undefined, {
            n,
            batchSize: config.batchSize,
            seed: 0,
          });
        });
      }
      // Do the source's features and the prompted host's place the training images of class c near real class c?
      for (let k = 1; k <= sources.length; k++) {
        const letter = String.fromCharCode(65 + k);
        const source = sources[k - 1]!;
        const images = sourceData === 'real' ? ctx.sourceTrain![k - 1]! : synthesizers.find((s) => s.bank === letter)!.synthesizer;
        const augment = sourceData === 'real' ? undefined : ctx.sourceAugment?.[k - 1];
        const options = { n, batchSize: config.batchSize, seed };
        const teacher = (x: tf.Tensor4D) => source.apply(x, { training: false }).logits;
        try {
          // the frozen source's class means do not change: computed once; the prompted host's every epoch
          const sourceFeatures = modelFeatures(source);
          const sourceSpace = { features: sourceFeatures, means: (sourceMeans[k - 1] ??= await realClassMeans(sourceFeatures, ctx.sourceTests[k - 1]!)) };
          const hostFeatures = (x: tf.Tensor4D) => fused.promptedHostFeatures(k, x);
          const hostSpace = { features: hostFeatures, means: await realClassMeans(hostFeatures, ctx.sourceTests[k - 1]!) };
          const [viaSource, viaHost] = await bankAlignment([sourceSpace, hostSpace], images, teacher, augment, options);
          Object.assign(out, {
            [`alignment.source${letter}`]: viaSource,
            [`alignment.host${letter}`]: viaHost,
            [`separability.source${letter}`]: sourceSpace.means.separability,
            [`separability.host${letter}`]: hostSpace.means.separability,
          });
        } catch (e) {
          if (!(e instanceof MissingFeaturesError)) throw e; // a model without a 'features' tap: no alignment diagnostics
        }
      }
      return out;
    },
    reseed(seed) {
      reseedAll(seed, [...sourceStreams, hostStream], synthesizers.map((s) => s.synthesizer));
    },
    async promptBnStatistics() {
      if (!config.fidelity.hostBnTrainMode) return undefined;
      const out = [];
      for (let k = 1; k <= sources.length; k++) {
        // the images the prompt trained on: the synthetic bank (data-free) or the real training images (reference row)
        out.push(
          await promptBnStatistics(fused, k, sourceStreams[k - 1]!, ctx.sourceTests[k - 1]!, {
            images: PROMPT_BN_IMAGES,
            batchSize: config.batchSize,
            seed: epochSeed(config.seed, config.epochs, 100 + k),
            data: sourceData === 'real' ? 'real training images' : `synthetic bank ${String.fromCharCode(65 + k)}`,
          }),
        );
      }
      return out;
    },
    stateVariables() {
      const vars: Record<string, tf.Variable> = {};
      // `prompt.<i>.<segment variable>`: the engine's name prefix (a per-process counter) is left out
      prompt.trainableVariables().forEach((v, i) => (vars[`prompt.${i}.${v.name.replace(/^[^/]*\//, '')}`] = v));
      return vars;
    },
    dispose() {
      for (const s of synthesizers) s.synthesizer.dispose();
    },
  };
}
