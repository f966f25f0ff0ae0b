import { z } from 'zod';

/**
 * KiOP variants (paper §5 "Baselines and Evaluations"), plus `realDataRef`: KiOP-B trained on the source's REAL
 * training images instead of a synthetic bank — not part of the paper's method, a reference row that shows what
 * the data-free synthesis costs at the same budget.
 */
export const KIOP_VARIANTS = ['vanillaKd', 'kiopT', 'kiopB', 'kiopBF', 'multiModel', 'realDataRef'] as const;
export type KiopVariantKey = (typeof KIOP_VARIANTS)[number];

/** CMI synthesis settings for one bank (kiop-spec §1.3, §3). */
export const synthesisSchema = z.object({
  /** Generator iterations per round — the paper's T ("T times"); code `g_steps`. */
  gSteps: z.number().int().positive(),
  /** Synthesis rounds per epoch per bank (`ep_steps // kd_steps`). */
  roundsPerEpoch: z.number().int().positive(),
  /** Generator + z Adam learning rate (`lr_g`). */
  lrG: z.number().positive(),
  /** Latent size nz and generator width ngf. */
  nz: z.number().int().positive(),
  ngf: z.number().int().positive(),
  /** Loss weights: BN statistics, class prior (one-hot), adversarial, contrastive; contrastive temperature. */
  bn: z.number().nonnegative(),
  oh: z.number().nonnegative(),
  adv: z.number().nonnegative(),
  cr: z.number().nonnegative(),
  crT: z.number().positive(),
  /**
   * Weight of a total-variation image prior on the synthetic images (DeepInversion's R_TV). Not in the reference
   * (default 0); measured on the demo pair in apps/kiop-bench/RESULTS.md.
   */
  tv: z.number().nonnegative().optional(),
  /** Feature memory bank rows (must be divisible by the batch) and negatives sampled per iteration. */
  bankCapacity: z.number().int().positive(),
  nNeg: z.number().int().positive(),
  /** Contrastive head hidden width ('feature' = D, as the reference) and output width. */
  headHidden: z.union([z.literal('feature'), z.number().int().positive()]),
  headOut: z.number().int().positive(),
  /**
   * Re-initialise the generator every round, as the reference does (default true). `false` keeps training one
   * generator across rounds (a warm start; not the paper's method).
   */
  resetGenerator: z.boolean().optional(),
  /**
   * Colour of the synthetic images. `rgb` (default, the reference): the generator draws every input channel.
   * `grey`: it draws one channel, repeated over the teacher's input channels (`GreyGenerator`). `dataset`: grey for a
   * teacher trained on a grey dataset (MNIST, Fashion-MNIST, stored as RGB), RGB otherwise. Not in the reference,
   * whose bank transform greys RGB images only after synthesis (kiop-spec §3.2).
   */
  colour: z.enum(['rgb', 'grey', 'dataset']).optional(),
});

/** Reference-code behaviours that differ from the paper (kiop-spec §6). All off by default. */
export const fidelitySchema = z.object({
  /** §6.1: the reference never puts the host in eval mode; its BN uses batch statistics everywhere. */
  hostBnTrainMode: z.boolean(),
  /** §4.1/§6.2: preservation KL argument order. 'forward' = paper KL(P_MA ‖ P_SMA); 'reversed' = code. */
  preservationKl: z.enum(['forward', 'reversed']),
  /**
   * §6.3: 'perModel' uses each model's own normalisation everywhere (default); 'reference' normalises all
   * synthesis views with the first source's statistics, as the code does.
   */
  normalization: z.enum(['perModel', 'reference']),
});

/** One KiOP run. */
export const kiopConfigSchema = z.object({
  variant: z.enum(KIOP_VARIANTS),
  seed: z.number().int(),
  /** Epochs E (code default 100). */
  epochs: z.number().int().positive(),
  /** Prompt (knowledge-storing) steps per epoch (`kd_steps`). */
  kdSteps: z.number().int().positive(),
  /** Batch N: synthesis batch and KD batch from each bank. */
  batchSize: z.number().int().positive(),
  /**
   * Rows per micro-batch of a knowledge-storing step (gradient accumulation: the memory of `microBatch` rows, the
   * gradient of the whole batch N). Absent: the batch whole. Paper-size batches on CPU (N = 128 with a 128 px
   * ResNet-18 host) need it on the wasm backend, whose heap stops at 4 GiB.
   */
  microBatch: z.number().int().positive().optional(),
  /** Nested prompt sizes: [image n, PC, PP, (PP2 ...)] — paper 32 → 36 → 128 (→ 224 for multi-model). */
  promptSizes: z.array(z.number().int().positive()).min(2),
  /** Prompt SGD: lr 0.8, momentum 0.9, weight decay 1e-4, cosine over epochs (stepped per epoch). */
  lr: z.number().positive(),
  momentum: z.number().min(0).max(1),
  weightDecay: z.number().nonnegative(),
  /** KD temperature τ (code `--T`, 20); losses are scaled by τ². */
  temperature: z.number().positive(),
  /** α (preservation) and β (source) weights of L_KiOP (Eq. 8); both 1 in the paper. */
  alpha: z.number().nonnegative(),
  beta: z.number().nonnegative(),
  /**
   * Label mapping LM. `random`: a random mapping (RLM) fixed for the run, as the paper and the reference code.
   * `iterative`: ILM (ILM-VP), data-free (kiop-spec §2.4): at the start of every knowledge-storing period the
   * frequency mapping is recomputed from the prompted host's argmax and the source's argmax on images of the stream
   * the prompt trains on (the synthetic bank; real images for the real-data reference). Not the paper's method; one
   * source only. A list π fixes LM to it (source class j reads host logit π[j]; e.g. a mapping found by another run —
   * with real data, so not data-free); one source only.
   */
  labelMapping: z.union([z.enum(['random', 'iterative']), z.array(z.number().int().nonnegative()).min(1)]),
  /**
   * Images each per-epoch diagnostic reads (bank agreement, feature alignment; rounded up to whole batches);
   * default 256. Diagnostics only: no training step depends on it.
   */
  diagnosticImages: z.number().int().positive().optional(),
  /** Vanilla-KD: learning rate of the host network trained by data-free KD (CMI's student recipe). */
  vanillaLr: z.number().positive(),
  synthesis: synthesisSchema,
  fidelity: fidelitySchema,
});

export type KiopConfig = z.infer<typeof kiopConfigSchema>;
export type SynthesisConfig = z.infer<typeof synthesisSchema>;
export type FidelityConfig = z.infer<typeof fidelitySchema>;
