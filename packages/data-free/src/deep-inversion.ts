import * as tf from '@tensorflow/tfjs';
import {
  type ClassifierModel,
  ConfigError,
  Rng,
  type SynthesisStep,
  type Synthesizer,
  adam,
  assertFinite,
  l2Norm,
} from '@promptkd/core';
import { adversarialLoss } from './adversarial-loss.js';
import { BestOfRound } from './best-of-round.js';
import { bnStatisticsLoss } from './bn-statistics-loss.js';
import { classPriorLoss, sortedRandomTargets } from './class-prior-loss.js';
import type { StudentFn } from './cmi-synthesizer.js';
import { ImageBank, type ImageBankStore } from './image-bank.js';
import { jitterAndFlip } from './jitter.js';
import { totalVariationLoss } from './total-variation.js';

/** Hyper-parameters of {@link DeepInversionSynthesizer}. Defaults = CMI's `DeepInvSyntheiszer` defaults. */
export interface DeepInversionConfig {
  /** Synthesis batch N. Reference 128. */
  readonly batchSize: number;
  /** Pixel-optimisation steps per round. Reference 1000. */
  readonly iterations: number;
  /** Adam learning rate on the pixels. Reference 0.1. */
  readonly lr: number;
  /** Adam betas. Reference (0.5, 0.99). */
  readonly betas: readonly [number, number];
  /** Weight of the BN-statistics loss. Reference 1. */
  readonly bn: number;
  /** Weight of the class-prior cross-entropy. Reference 1. */
  readonly oh: number;
  /** Weight of the total-variation prior. Reference 1e-5. */
  readonly tv: number;
  /** Weight of the L2 norm of the (normalised) batch. Reference 0. */
  readonly l2: number;
  /** Weight of the adversarial term (CMI's masked −KL form; the reference uses −JS at T=3). Reference 0. */
  readonly adv: number;
  /** Jitter range as a fraction of the image side. Reference 1/8. */
  readonly jitter: number;
  /** Image size H = W of the synthesised batch. Default 32. */
  readonly imageSize: number;
  readonly seed: number;
}

export const DEEP_INVERSION_DEFAULTS: DeepInversionConfig = {
  batchSize: 128,
  iterations: 1000,
  lr: 0.1,
  betas: [0.5, 0.99],
  bn: 1,
  oh: 1,
  tv: 1e-5,
  l2: 0,
  adv: 0,
  jitter: 1 / 8,
  imageSize: 32,
  seed: 0,
};

/** Presets as data: `paper` (reference), `cpu`, `smoke`. */
export const DEEP_INVERSION_PRESETS = {
  paper: DEEP_INVERSION_DEFAULTS,
  cpu: { ...DEEP_INVERSION_DEFAULTS, batchSize: 32, iterations: 200 },
  smoke: { ...DEEP_INVERSION_DEFAULTS, batchSize: 8, iterations: 10 },
} as const satisfies Record<string, DeepInversionConfig>;

export type DeepInversionPresetName = keyof typeof DEEP_INVERSION_PRESETS;

/** Merges a preset with overrides and validates. */
export function resolveDeepInversionConfig(
  overrides: Partial<DeepInversionConfig> = {},
  preset: DeepInversionPresetName = 'paper',
): DeepInversionConfig {
  const base = DEEP_INVERSION_PRESETS[preset];
  if (!base) {
    throw new ConfigError(`Unknown DeepInversion preset '${String(preset)}'. Valid: ${Object.keys(DEEP_INVERSION_PRESETS).join(', ')}.`, {
      field: 'preset',
    });
  }
  const c: DeepInversionConfig = { ...base, ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)) };
  const bad = (field: string, what: string): never => {
    throw new ConfigError(`DeepInversion config '${field}' ${what}.`, { field });
  };
  for (const f of ['batchSize', 'iterations', 'imageSize'] as const) if (!(Number.isInteger(c[f]) && c[f] > 0)) bad(f, 'must be a positive integer');
  for (const f of ['bn', 'oh', 'tv', 'l2', 'adv'] as const) if (!(Number.isFinite(c[f]) && c[f] >= 0)) bad(f, 'must be a finite number ≥ 0');
  if (!(c.lr > 0)) bad('lr', 'must be > 0');
  if (!(c.jitter >= 0 && c.jitter < 1)) bad('jitter', 'must be in [0, 1)');
  if (!(c.betas[0] >= 0 && c.betas[0] < 1 && c.betas[1] >= 0 && c.betas[1] < 1)) bad('betas', 'must be two numbers in [0, 1)');
  return c;
}

/** Options of {@link DeepInversionSynthesizer}. */
export interface DeepInversionOptions {
  readonly teacher: ClassifierModel;
  readonly student?: StudentFn;
  readonly preset?: DeepInversionPresetName;
  readonly config?: Partial<DeepInversionConfig>;
  readonly bankStore?: ImageBankStore;
  readonly resumeBank?: boolean;
  readonly onIteration?: (iteration: number, losses: Readonly<Record<string, number>>) => void;
}

/**
 * DeepInversion (Yin et al., CVPR 2020) in CMI's form: the pixels themselves are optimised (in the teacher's
 * normalised space, clipped to the valid [0,1] range after every step) against
 * bn·L_bn + oh·L_oh + tv·L_tv + l2·‖x‖₂ (+ adv·L_adv), with batch-wide jitter and flip; the lowest-loss
 * batch of each round goes into the image bank.
 */
export class DeepInversionSynthesizer implements Synthesizer {
  readonly key = 'deepInversion';
  readonly config: DeepInversionConfig;
  readonly imageBank: ImageBank;
  private readonly teacher: ClassifierModel;
  private readonly student: StudentFn | undefined;
  private readonly rng: Rng;
  private readonly onIteration: DeepInversionOptions['onIteration'];

  constructor(options: DeepInversionOptions) {
    this.config = resolveDeepInversionConfig(options.config, options.preset ?? 'paper');
    this.teacher = options.teacher;
    this.student = options.student;
    this.onIteration = options.onIteration;
    this.rng = Rng.fromSeed(this.config.seed);
    const s = this.config.imageSize;
    this.imageBank = new ImageBank({
      height: s,
      width: s,
      channels: this.teacher.inputChannels,
      store: options.bankStore,
      resume: options.resumeBank,
      seed: this.config.seed + 1,
    });
  }

  async synthesize(): Promise<SynthesisStep> {
    const cfg = this.config;
    const c = this.teacher.inputChannels;
    const n = cfg.batchSize;
    const s = cfg.imageSize;
    const norm = this.teacher.normalization;
    const mean = norm?.mean ?? new Array<number>(c).fill(0);
    const std = norm?.std ?? new Array<number>(c).fill(1);
    const advWeight = this.student ? cfg.adv : 0;
    const targets = sortedRandomTargets(n, this.teacher.numClasses, this.rng);
    const seed = this.rng.seed();
    // u lives in the teacher's normalised space (the reference's `inputs`); pixels x = u·σ + μ.
    const u = tf.tidy(() => tf.variable(tf.randomNormal([n, s, s, c], 0, 1, 'float32', seed), true)) as tf.Variable<tf.Rank.R4>;
    const mu = tf.tensor1d([...mean]);
    const sigma = tf.tensor1d([...std]);
    const lo = tf.tensor1d(mean.map((m, i) => (0 - m) / (std[i] as number)));
    const hi = tf.tensor1d(mean.map((m, i) => (1 - m) / (std[i] as number)));
    const opt = adam(cfg.lr, cfg.betas[0], cfg.betas[1], 1e-8);
    const best = new BestOfRound<tf.Tensor4D>();
    try {
      for (let it = 0; it < cfg.iterations; it++) {
        let kept: tf.Tensor4D | undefined;
        let terms: tf.Tensor1D | undefined;
        const { value, grads } = tf.variableGrads(() => {
          const x = tf.add(tf.mul(u, sigma), mu) as tf.Tensor4D;
          const xa = jitterAndFlip(x, this.rng, cfg.jitter);
          const out = this.teacher.apply(xa, { training: false, bnTaps: cfg.bn > 0 });
          const lBn = cfg.bn > 0 ? bnStatisticsLoss(out.bn ?? []) : tf.scalar(0);
          const lOh = classPriorLoss(out.logits, targets);
          const lAdv = advWeight > 0 && this.student ? adversarialLoss(out.logits, this.student(xa)) : tf.scalar(0);
          const lTv = totalVariationLoss(u);
          const lL2 = l2Norm(u);
          const total = tf.addN([
            tf.mul(lBn, cfg.bn),
            tf.mul(lOh, cfg.oh),
            tf.mul(lAdv, advWeight),
            tf.mul(lTv, cfg.tv),
            tf.mul(lL2, cfg.l2),
          ]) as tf.Scalar;
          kept = tf.keep(tf.clipByValue(x, 0, 1));
          terms = tf.keep(tf.stack([total, lBn, lOh, lAdv, lTv, lL2]) as tf.Tensor1D);
          return total;
        }, [u]);
        const t = (terms as unknown as tf.Tensor1D).dataSync();
        const losses = { total: t[0] as number, bn: t[1] as number, oh: t[2] as number, adv: t[3] as number, tv: t[4] as number, l2: t[5] as number };
        tf.dispose([value, terms as unknown as tf.Tensor]);
        try {
          assertFinite(losses.total, { step: it, term: 'deepInversion', what: 'DeepInversion loss' });
        } catch (e) {
          tf.dispose([kept as unknown as tf.Tensor, ...Object.values(grads)]);
          throw e;
        }
        best.offer(losses.total, kept as unknown as tf.Tensor4D, it, losses);
        opt.applyGradients([{ name: u.name, tensor: grads[u.name] as tf.Tensor }]);
        tf.dispose(Object.values(grads));
        tf.tidy(() => u.assign(tf.minimum(tf.maximum(u, lo), hi)));
        this.onIteration?.(it, losses);
      }
      const x = best.take();
      if (x) {
        this.imageBank.add(x, targets);
        x.dispose();
      }
      return { losses: { ...best.info, iteration: best.iteration }, bankSize: this.imageBank.size };
    } finally {
      best.dispose();
      opt.dispose();
      tf.dispose([u, mu, sigma, lo, hi]);
    }
  }

  sample(n: number, rng?: Rng): tf.Tensor4D {
    return this.imageBank.sample(n, rng);
  }

  /** n bank images picked by `rng` alone; the order {@link sample} follows is left as it is (diagnostics). */
  draw(n: number, rng: Rng): tf.Tensor4D {
    return this.imageBank.draw(n, rng);
  }

  dispose(): void {
    // nothing persistent on the device
  }
}
