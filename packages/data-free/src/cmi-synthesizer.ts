import * as tf from '@tensorflow/tfjs';
import {
  type ClassifierModel,
  ConfigError,
  Rng,
  ShapeError,
  type SynthesisStep,
  type RngState,
  type Synthesizer,
  adam,
  assertFinite,
} from '@promptkd/core';
import { adversarialLoss } from './adversarial-loss.js';
import { BestOfRound } from './best-of-round.js';
import { bnStatisticsLoss } from './bn-statistics-loss.js';
import { classPriorLoss, sortedRandomTargets } from './class-prior-loss.js';
import { type CmiConfig, type CmiPresetName, resolveCmiConfig } from './cmi-config.js';
import { ContrastiveHead } from './contrastive-head.js';
import { cmiContrastiveLoss } from './contrastive-loss.js';
import { FeatureBank } from './feature-bank.js';
import type { SynthesisGenerator } from './generator.js';
import { horizontalFlip, sampleFlips } from './horizontal-flip.js';
import { ImageBank, type ImageBankStore } from './image-bank.js';
import { instanceMeanFeatures } from './instance-mean-features.js';
import { randomCropWithPadding, sampleCropOffsets } from './random-crop.js';
import { randomResizedCrop, sampleResizedCropBoxes } from './random-resized-crop.js';
import { keptBatchDiagnostics } from './synthesis-diagnostics.js';
import { totalVariationLoss } from './total-variation.js';

/** Any differentiable x → logits function (KiOP passes the fused prompt model, e.g. SMB). */
export type StudentFn = (x: tf.Tensor4D) => tf.Tensor2D;

/** Loss terms of one generator iteration (weighted total and the unweighted terms). */
export interface CmiIterationLosses {
  readonly total: number;
  readonly bn: number;
  readonly oh: number;
  readonly adv: number;
  readonly cr: number;
  /** The total-variation prior (0 when its weight is 0). */
  readonly tv: number;
}

/** JSON part of {@link CMISynthesizer.exportState}. */
export interface CmiSynthesizerState {
  readonly rounds: number;
  readonly rngs: Readonly<Record<'targets' | 'init' | 'views' | 'negatives', RngState>>;
  readonly imageBank: { labels: number[]; order: number[]; cursor: number; rng: RngState };
  readonly featureBank: { ptr: number; updates: number };
  readonly headOptimizer: { iterations: number; slots: string[] };
}

/** Options of {@link CMISynthesizer}. */
export interface CmiSynthesizerOptions {
  /** Frozen teacher T (the model being inverted); called in eval mode with BN taps. */
  readonly teacher: ClassifierModel;
  /** Image generator G, re-initialised every round. */
  readonly generator: SynthesisGenerator;
  /** Adversarial student S (x → logits with the teacher's classes). Absent → adversarial weight 0. */
  readonly student?: StudentFn;
  /** Preset to start from (default `paper`). */
  readonly preset?: CmiPresetName;
  /** Overrides of the preset. */
  readonly config?: Partial<CmiConfig>;
  /** Persist the image bank here (e.g. `new ImageBankFolder(dir)` of `@promptkd/data-free/node`, an empty folder of a run folder). */
  readonly bankStore?: ImageBankStore;
  /** Re-open what `bankStore` holds (resume). */
  readonly resumeBank?: boolean;
  /** Called after every generator iteration (progress bars, logging). */
  readonly onIteration?: (iteration: number, losses: CmiIterationLosses) => void;
}

/**
 * Contrastive Model Inversion (Fang et al., IJCAI 2021) as used by KiOP: each {@link CMISynthesizer.synthesize}
 * round re-initialises G, optimises (G, z) for `iterations` steps against BN-statistics + class-prior +
 * adversarial + contrastive losses, keeps the lowest-loss batch and appends it to the image bank (and its
 * features to the feature bank). See the package README for every step and deviation.
 */
export class CMISynthesizer implements Synthesizer {
  readonly key = 'cmi';
  readonly config: CmiConfig;
  /** Feature dimension D of the teacher (Σ BN input channels). */
  readonly featureDim: number;
  readonly imageShape: readonly [number, number, number];
  readonly imageBank: ImageBank;
  readonly featureBank: FeatureBank;
  readonly head: ContrastiveHead;
  private readonly teacher: ClassifierModel;
  private readonly generator: SynthesisGenerator;
  private readonly student: StudentFn | undefined;
  private readonly headOptimizer: tf.Optimizer;
  /** Independent streams, so that changing one setting (e.g. cr = 0) does not change targets, z or views. */
  private rngs: { targets: Rng; init: Rng; views: Rng; negatives: Rng };
  private readonly nz: number;
  private readonly onIteration: CmiSynthesizerOptions['onIteration'];
  private rounds = 0;
  private disposed = false;

  constructor(options: CmiSynthesizerOptions) {
    this.config = resolveCmiConfig(options.config, options.preset ?? 'paper');
    this.teacher = options.teacher;
    this.generator = options.generator;
    this.student = options.student;
    this.onIteration = options.onIteration;
    const root = Rng.fromSeed(this.config.seed);
    const headRng = root.fork();
    this.rngs = { targets: root.fork(), init: root.fork(), views: root.fork(), negatives: root.fork() };
    // `latentDim`, else a `config.nz` (models' CmiGenerator), else the config's nz.
    this.nz = options.generator.latentDim ?? (options.generator as { config?: { nz?: number } }).config?.nz ?? this.config.nz;
    // Probe shapes with one generator and one teacher forward (like the reference's "CMI dims" probe).
    const probe = tf.tidy(() => {
      const x = this.generator.apply(tf.zeros([2, this.nz]), { training: true });
      const out = this.teacher.apply(x, { training: false, bnTaps: true });
      const bn = out.bn ?? [];
      return { shape: x.shape, d: bn.reduce((s, t) => s + (t.mean.shape[0] ?? 0), 0), layers: bn.length };
    });
    const [, h, w, c] = probe.shape;
    if (c !== this.teacher.inputChannels) {
      throw new ShapeError(
        `The generator makes ${c}-channel images but the teacher '${this.teacher.name}' expects ${this.teacher.inputChannels}.`,
        { generator: c, teacher: this.teacher.inputChannels },
      );
    }
    if (probe.layers === 0) {
      throw new ConfigError(
        `Teacher '${this.teacher.name}' reported no BatchNorm layers; CMI needs them for L_bn and the contrastive features.`,
        { field: 'teacher' },
      );
    }
    this.imageShape = [h, w, c];
    this.featureDim = probe.d;
    this.imageBank = new ImageBank({
      height: h,
      width: w,
      channels: c,
      store: options.bankStore,
      resume: options.resumeBank,
      seed: this.config.seed + 1,
    });
    this.featureBank = new FeatureBank({ capacity: this.config.bankCapacity, dim: 2 * this.featureDim });
    this.head = new ContrastiveHead({
      inputDim: this.featureDim,
      hiddenDim: this.config.headHidden,
      outputDim: this.config.headDim,
      rng: headRng,
    });
    this.headOptimizer = adam(this.config.lrHead, 0.9, 0.999, 1e-8);
  }

  /** Completed rounds. */
  get roundsDone(): number {
    return this.rounds;
  }

  /** One synthesis round: `iterations` generator steps, then the best batch goes into the banks. */
  async synthesize(): Promise<SynthesisStep> {
    if (this.disposed) throw new ConfigError('This CMISynthesizer was disposed.', { field: 'synthesizer' });
    const cfg = this.config;
    const n = cfg.batchSize;
    const [h, w] = this.imageShape;
    const advWeight = this.student ? cfg.adv : 0;
    const rng = this.rngs.views;
    const targets = sortedRandomTargets(n, this.teacher.numClasses, this.rngs.targets);

    if (cfg.resetGenerator || this.rounds === 0) this.generator.reinitialize(this.rngs.init);
    const zSeed = this.rngs.init.seed();
    const z = tf.tidy(() => tf.variable(tf.randomNormal([n, this.nz], 0, 1, 'float32', zSeed), true)) as tf.Variable<tf.Rank.R2>;
    const optG = adam(cfg.lrGenerator, cfg.betas[0], cfg.betas[1], 1e-8);
    const genVars = [...this.generator.trainableVariables(), z];
    const headVars = cfg.cr > 0 ? this.head.trainableVariables() : [];
    const best = new BestOfRound<{ x: tf.Tensor4D; feat: tf.Tensor2D | undefined }>();
    try {
      for (let it = 0; it < cfg.iterations; it++) {
        // Random parameters of this iteration (JS side, seeded).
        const offsets = sampleCropOffsets(n, cfg.cropPadding, rng);
        const flipsG = sampleFlips(n, rng);
        const boxes = sampleResizedCropBoxes(n, h, w, rng, { scale: cfg.localScale });
        const flipsL = sampleFlips(n, rng);
        const cached = cfg.cr > 0 && cfg.negatives > 0 ? this.featureBank.sample(cfg.negatives, this.rngs.negatives) : undefined;
        const m = cached ? cached.indices.length : 0;
        const cachedParts =
          cached && m > 0
            ? tf.tidy(() => tf.split(tf.tensor2d(cached.data, [m, 2 * this.featureDim]), 2, 1) as [tf.Tensor2D, tf.Tensor2D])
            : undefined;

        let keptX: tf.Tensor4D | undefined;
        let keptFeat: tf.Tensor2D | undefined;
        let termsVec: tf.Tensor1D | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const x = this.generator.apply(z, { training: true });
          const xg = horizontalFlip(randomCropWithPadding(x, cfg.cropPadding, offsets), flipsG);
          const outG = this.teacher.apply(xg, { training: false, bnTaps: true });
          const tapsG = outG.bn ?? [];
          const lBn = cfg.bn > 0 ? bnStatisticsLoss(tapsG) : tf.scalar(0);
          const lOh = classPriorLoss(outG.logits, targets);
          const lAdv = advWeight > 0 && this.student ? adversarialLoss(outG.logits, this.student(xg)) : tf.scalar(0);
          // The contrastive branch (local view, features, head) only runs when cr > 0; the view parameters are
          // drawn either way so that cr = 0 sees the same targets, z and global views.
          let lCr: tf.Scalar = tf.scalar(0);
          if (cfg.cr > 0) {
            const xl = horizontalFlip(randomResizedCrop(x, boxes), flipsL);
            const g = instanceMeanFeatures(tapsG);
            const l = instanceMeanFeatures(this.teacher.apply(xl, { training: false, bnTaps: true }).bn ?? []);
            lCr = cmiContrastiveLoss(
              this.head,
              { local: l, global: g, cachedLocal: cachedParts?.[0], cachedGlobal: cachedParts?.[1] },
              cfg.crTemperature,
            );
            keptFeat = tf.keep(tf.concat([l, g], 1) as tf.Tensor2D);
          }
          const lTv = cfg.tv > 0 ? totalVariationLoss(x) : tf.scalar(0);
          const total = tf.addN([
            tf.mul(lBn, cfg.bn),
            tf.mul(lOh, cfg.oh),
            tf.mul(lAdv, advWeight),
            tf.mul(lCr, cfg.cr),
            tf.mul(lTv, cfg.tv),
          ]) as tf.Scalar;
          keptX = tf.keep(x);
          termsVec = tf.keep(tf.stack([total, lBn, lOh, lAdv, lCr, lTv]) as tf.Tensor1D);
          return total;
        }, [...genVars, ...headVars]);
        const t = (termsVec as unknown as tf.Tensor1D).dataSync();
        const losses: CmiIterationLosses = {
          total: t[0] as number,
          bn: t[1] as number,
          oh: t[2] as number,
          adv: t[3] as number,
          cr: t[4] as number,
          tv: t[5] as number,
        };
        tf.dispose([value, termsVec as unknown as tf.Tensor, ...(cachedParts ?? [])]);
        try {
          assertFinite(losses.total, { step: it, term: 'cmi', what: 'CMI synthesis loss' });
        } catch (e) {
          tf.dispose([keptX as unknown as tf.Tensor, keptFeat as unknown as tf.Tensor, ...Object.values(grads)]);
          throw e;
        }
        best.offer(losses.total, { x: keptX as unknown as tf.Tensor4D, feat: keptFeat }, it, {
          ...losses,
        });
        // Fixed-order lists: tfjs optimisers index their slots by position. A parameter without a path to the
        // loss gets a zero gradient (the reference skips it; with Adam that differs only in moment decay).
        const zeros: tf.Tensor[] = [];
        const named = (vars: tf.Variable[]): { name: string; tensor: tf.Tensor }[] =>
          vars.map((v) => {
            let g = grads[v.name];
            if (!g) {
              g = tf.zerosLike(v);
              zeros.push(g);
            }
            return { name: v.name, tensor: g };
          });
        optG.applyGradients(named(genVars));
        if (headVars.length > 0) this.headOptimizer.applyGradients(named(headVars));
        tf.dispose([...Object.values(grads), ...zeros]);
        this.onIteration?.(it, losses);
      }
      const kept = best.take();
      let diagnostics: Record<string, number> = {};
      if (kept) {
        this.imageBank.add(kept.x, targets);
        diagnostics = keptBatchDiagnostics(this.teacher, kept.x, targets, this.imageBank.labels);
        if (kept.feat) this.featureBank.add(kept.feat);
        tf.dispose([kept.x, ...(kept.feat ? [kept.feat] : [])]);
      }
      this.rounds++;
      return { losses: { ...best.info, iteration: best.iteration, ...diagnostics }, bankSize: this.imageBank.size };
    } finally {
      best.dispose();
      optG.dispose();
      z.dispose();
    }
  }

  /**
   * Restarts the random streams of the next rounds (targets, z and generator init, views, negatives) from `seed`.
   * A trainer that reseeds at every epoch start can resume a killed run at an epoch boundary and replay it exactly.
   */
  reseed(seed: number): void {
    const root = Rng.fromSeed(seed);
    this.rngs = { targets: root.fork(), init: root.fork(), views: root.fork(), negatives: root.fork() };
  }

  /**
   * The state that survives rounds — image bank, feature bank, contrastive head and its Adam, RNG streams,
   * round count, and the generator's weights when it is kept across rounds (`resetGenerator: false`) — as tensors (the caller disposes them) and JSON, for checkpoints.
   */
  async exportState(): Promise<{ tensors: Record<string, tf.Tensor>; state: CmiSynthesizerState }> {
    const bank = this.imageBank.exportState();
    const features = this.featureBank.exportState();
    const tensors: Record<string, tf.Tensor> = {
      'imageBank.pixels': tf.tensor1d(Int32Array.from(bank.pixels), 'int32'),
      'featureBank.rows': tf.tensor2d(features.rows, [features.rows.length / this.featureBank.dim, this.featureBank.dim]),
    };
    this.head.trainableVariables().forEach((v, i) => (tensors[`head.${i}`] = v.clone()));
    // A generator kept across rounds is state too (a re-initialised one is not).
    if (!this.config.resetGenerator) this.generator.trainableVariables().forEach((v, i) => (tensors[`generator.${i}`] = v.clone()));
    const weights = await this.headOptimizer.getWeights();
    const slotNames: string[] = [];
    let iterations = 0;
    for (const [i, w] of weights.entries()) {
      if (i === 0) {
        iterations = (await w.tensor.data())[0] as number;
        w.tensor.dispose();
        continue;
      }
      tensors[`headOptimizer.${i}`] = w.tensor.clone();
      slotNames.push(w.name);
    }
    return {
      tensors,
      state: {
        rounds: this.rounds,
        rngs: Object.fromEntries(Object.entries(this.rngs).map(([k, r]) => [k, r.getState()])) as CmiSynthesizerState['rngs'],
        imageBank: { labels: bank.labels, order: bank.order, cursor: bank.cursor, rng: bank.rng },
        featureBank: { ptr: features.ptr, updates: features.updates },
        headOptimizer: { iterations, slots: slotNames },
      },
    };
  }

  /** Restores {@link CMISynthesizer.exportState}'s output into a synthesizer built with the same config and teacher. */
  async importState(saved: { tensors: Record<string, tf.Tensor>; state: unknown }): Promise<void> {
    const state = saved.state as CmiSynthesizerState;
    const t = saved.tensors;
    const need = (name: string): tf.Tensor => {
      const x = t[name];
      if (!x) throw new ConfigError(`CMI synthesizer state lacks tensor '${name}'.`, { field: name });
      return x;
    };
    if (!state || typeof state !== 'object' || !state.rngs || !state.imageBank || !state.featureBank) {
      throw new ConfigError('CMI synthesizer state is missing or malformed.', { field: 'state' });
    }
    this.imageBank.importState({ ...state.imageBank, pixels: Uint8Array.from(await need('imageBank.pixels').data()) });
    this.featureBank.importState({ ...state.featureBank, rows: (await need('featureBank.rows').data()) as Float32Array });
    this.head.trainableVariables().forEach((v, i) => v.assign(need(`head.${i}`)));
    if (!this.config.resetGenerator && state.rounds > 0) {
      this.generator.trainableVariables().forEach((v, i) => v.assign(need(`generator.${i}`)));
    }
    const slots = state.headOptimizer.slots.map((name, i) => ({ name, tensor: need(`headOptimizer.${i + 1}`) }));
    if (slots.length > 0) {
      await this.headOptimizer.setWeights([{ name: 'iter', tensor: tf.scalar(state.headOptimizer.iterations) }, ...slots]);
    }
    this.rngs = {
      targets: Rng.fromState(state.rngs.targets),
      init: Rng.fromState(state.rngs.init),
      views: Rng.fromState(state.rngs.views),
      negatives: Rng.fromState(state.rngs.negatives),
    };
    this.rounds = state.rounds;
  }

  /** n images from the image bank (NHWC float32 in [0,1], uint8-quantised); the caller augments them. */
  sample(n: number, rng?: Rng): tf.Tensor4D {
    return this.imageBank.sample(n, rng);
  }

  /** n bank images picked by `rng` alone; the order {@link sample} follows is left as it is (diagnostics). */
  draw(n: number, rng: Rng): tf.Tensor4D {
    return this.imageBank.draw(n, rng);
  }

  /** Frees the head and its optimiser. The teacher, generator and student belong to the caller. */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.head.dispose();
    this.headOptimizer.dispose();
  }
}
