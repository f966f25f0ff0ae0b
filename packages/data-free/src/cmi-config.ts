import { ConfigError } from '@promptkd/core';

/** Hyper-parameters of one CMI synthesizer (paper symbols in brackets). Defaults = KiOP's reference values. */
export interface CmiConfig {
  /** Synthesis batch N (images added to the bank per round). Reference 128 (KiOP-B), 64 (BF/triple). */
  readonly batchSize: number;
  /** Generator iterations per round (`g_steps`; the paper's "T times"). Reference 200. */
  readonly iterations: number;
  /** Latent size nz when the generator does not declare one. Reference 256. */
  readonly nz: number;
  /** Adam learning rate of G and z (`lr_g`), re-created every round. Reference 0.01. */
  readonly lrGenerator: number;
  /** Adam betas of G and z. Reference (0.5, 0.999). */
  readonly betas: readonly [number, number];
  /** Adam learning rate of the contrastive head (never reset; betas 0.9/0.999). Reference = lr_g. */
  readonly lrHead: number;
  /** Weight of the BN-statistics loss (`bn`). Reference 1. */
  readonly bn: number;
  /** Weight of the class-prior cross-entropy (`oh`). Reference 1. */
  readonly oh: number;
  /** Weight of the adversarial loss (`adv`); forced to 0 without a student. Reference 0.5. */
  readonly adv: number;
  /** Weight of the contrastive loss (`cr`). Reference 0.8. */
  readonly cr: number;
  /**
   * Weight of DeepInversion's total-variation image prior (`R_TV`, `totalVariationLoss`) on the generated
   * images. Reference 0: CMI has no such term; an option for smoother images.
   */
  readonly tv: number;
  /** Contrastive temperature τ (`cr_T`). Reference 0.6 (CMI's own scripts: 0.1–0.2). */
  readonly crTemperature: number;
  /** Feature-bank capacity in rows (`bank_size`); must be divisible by `batchSize`. Reference 40 960. */
  readonly bankCapacity: number;
  /** Negatives drawn from the feature bank per iteration (`n_neg`). Reference 4 096. */
  readonly negatives: number;
  /** Projection size P of the head. Reference 256. */
  readonly headDim: number;
  /** Hidden width of the head; `undefined` = D (reference). Lower it for large D. */
  readonly headHidden: number | undefined;
  /** Zero padding of the global view's random crop. Reference 4. */
  readonly cropPadding: number;
  /** Area range of the local view's random resized crop. Reference [0.25, 1]. */
  readonly localScale: readonly [number, number];
  /**
   * Re-initialise the generator at the start of every round (reference: yes). `false` keeps training the same
   * generator across rounds (fresh z and Adam state each round), so later rounds start from a generator that
   * already maps z to the teacher's classes (a warm start, as in Fast-DFKD; not the KiOP/CMI reference).
   */
  readonly resetGenerator: boolean;
  /** Seed of every random choice (targets, z, re-init, augmentation, negatives, head init). */
  readonly seed: number;
}

/** The reference values (KiOP scripts + CMI defaults), for GPU users. */
export const CMI_DEFAULTS: CmiConfig = {
  batchSize: 128,
  iterations: 200,
  nz: 256,
  lrGenerator: 0.01,
  betas: [0.5, 0.999],
  lrHead: 0.01,
  bn: 1,
  oh: 1,
  adv: 0.5,
  cr: 0.8,
  tv: 0,
  crTemperature: 0.6,
  bankCapacity: 40960,
  negatives: 4096,
  headDim: 256,
  headHidden: undefined,
  cropPadding: 4,
  localScale: [0.25, 1],
  resetGenerator: true,
  seed: 0,
};

/** Presets as data: `paper` (reference), `cpu` (kiop-spec §7.3 scaled recipe), `smoke` (tests). */
export const CMI_PRESETS = {
  paper: CMI_DEFAULTS,
  cpu: { ...CMI_DEFAULTS, batchSize: 32, iterations: 50, negatives: 256, bankCapacity: 4096, headHidden: 256 },
  smoke: { ...CMI_DEFAULTS, batchSize: 8, iterations: 10, negatives: 64, bankCapacity: 256, headHidden: 64, headDim: 64 },
} as const satisfies Record<string, CmiConfig>;

/** Preset names of {@link CMI_PRESETS}. */
export type CmiPresetName = keyof typeof CMI_PRESETS;

const positiveInt = (v: unknown): boolean => Number.isInteger(v) && (v as number) > 0;
const nonNegative = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v >= 0;
const positive = (v: unknown): boolean => typeof v === 'number' && Number.isFinite(v) && v > 0;

/**
 * Merges a preset (default `paper`) with overrides and validates the result. Throws {@link ConfigError}
 * naming the field, e.g. when the bank capacity is not a multiple of the batch size.
 */
export function resolveCmiConfig(overrides: Partial<CmiConfig> = {}, preset: CmiPresetName = 'paper'): CmiConfig {
  const base = CMI_PRESETS[preset];
  if (!base) {
    throw new ConfigError(`Unknown CMI preset '${String(preset)}'. Valid presets: ${Object.keys(CMI_PRESETS).join(', ')}.`, {
      field: 'preset',
    });
  }
  const c: CmiConfig = { ...base, ...stripUndefined(overrides) };
  const fail = (field: string, what: string): never => {
    throw new ConfigError(`CMI config '${field}' ${what}, got ${JSON.stringify((c as unknown as Record<string, unknown>)[field])}.`, {
      field,
    });
  };
  for (const f of ['batchSize', 'iterations', 'nz', 'bankCapacity', 'headDim'] as const) {
    if (!positiveInt(c[f])) fail(f, 'must be a positive integer');
  }
  if (!Number.isInteger(c.negatives) || c.negatives < 0) fail('negatives', 'must be a non-negative integer');
  if (!Number.isInteger(c.cropPadding) || c.cropPadding < 0) fail('cropPadding', 'must be a non-negative integer');
  if (c.headHidden !== undefined && !positiveInt(c.headHidden)) fail('headHidden', 'must be a positive integer or undefined (= D)');
  for (const f of ['bn', 'oh', 'adv', 'cr', 'tv'] as const) if (!nonNegative(c[f])) fail(f, 'must be a finite number ≥ 0');
  for (const f of ['lrGenerator', 'lrHead', 'crTemperature'] as const) if (!positive(c[f])) fail(f, 'must be a finite number > 0');
  if (!(c.betas[0] >= 0 && c.betas[0] < 1 && c.betas[1] >= 0 && c.betas[1] < 1)) fail('betas', 'must be two numbers in [0, 1)');
  if (!(c.localScale[0] > 0 && c.localScale[0] <= c.localScale[1] && c.localScale[1] <= 1)) {
    fail('localScale', 'must be [lo, hi] with 0 < lo ≤ hi ≤ 1');
  }
  if (!Number.isInteger(c.seed)) fail('seed', 'must be an integer');
  if (c.bankCapacity % c.batchSize !== 0) {
    throw new ConfigError(
      `CMI config: bankCapacity ${c.bankCapacity} must be divisible by batchSize ${c.batchSize} ` +
        `(the feature bank is a ring buffer written one batch at a time); e.g. use ${c.batchSize * Math.max(1, Math.round(c.bankCapacity / c.batchSize))}.`,
      { field: 'bankCapacity' },
    );
  }
  return c;
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([k, v]) => v !== undefined || k === 'headHidden')) as Partial<T>;
}
