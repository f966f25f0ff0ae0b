import * as z from 'zod';
import { ConfigError } from '@promptkd/core';
import { codaPromptConfigSchema, dualPromptConfigSchema, l2pConfigSchema, parseWithSchema } from '@promptkd/continual';

const positiveInt = z.number().int().positive();

/** A ViT shape (timm-compatible). `timm` names the pretrained checkpoint when there is one. */
export const vitShapeSchema = z
  .object({
    timm: z.string().optional(),
    imageSize: positiveInt,
    patchSize: positiveInt,
    channels: positiveInt,
    /** D — embedding width. */
    dim: positiveInt,
    depth: positiveInt,
    heads: positiveInt,
    mlpRatio: z.number().positive(),
  })
  .strict();
/** A ViT shape (timm-compatible). */
export type VitShape = z.infer<typeof vitShapeSchema>;

/**
 * CL-method hyper-parameters of a preset (the `@promptkd/continual` method schemas). CODA's pool is
 * `componentsPerTask × numTasks`; DualPrompt's pool = numTasks.
 */
export const clPresetParamsSchema = z
  .object({
    l2p: l2pConfigSchema,
    dualprompt: dualPromptConfigSchema.omit({ poolSize: true }),
    coda: codaPromptConfigSchema.omit({ poolSize: true, numTasks: true }).extend({ componentsPerTask: positiveInt }),
  })
  .strict();
/** CL-method hyper-parameters of a preset. */
export type ClPresetParams = z.infer<typeof clPresetParamsSchema>;

/** Hyper-parameters shared by the KD methods (spec §4, §5; reference defaults in brackets). */
export const kdHyperParamsSchema = z
  .object({
    /** α — loss mix (1−α)·CE + α·KD and, for token methods, prediction mix (1−α)·g + α·k [0.5]. */
    alpha: z.number().min(0).max(1),
    /** τ — temperature of the logit / token KD [2]. */
    temperature: z.number().positive(),
    /** n_kd — KDP: KD token + KD prefixes in layers 1..n_kd−1 [12]. */
    kdLayers: positiveInt,
    /** L_kd — KDP: KD prefix length, split L_kd/2 key + L_kd/2 value [6]. */
    kdPromptLength: positiveInt,
    /** DKD: its own temperature [4], TCKD weight [1], NCKD weight [4]. */
    dkd: z.object({ temperature: z.number().positive(), alpha: z.number(), beta: z.number() }).strict(),
    /** FitNets feature-loss weight [0.1]. */
    fitnetsWeight: z.number(),
    /** ReviewKD feature-loss weight [0.2]. */
    reviewKdWeight: z.number(),
  })
  .strict();

/** Per-task optimisation (teacher and student; spec §2: Adam 1e-3, batch 64, E epochs, CODA cosine, reset per task). */
export const taskTrainingSchema = z
  .object({
    /** E — epochs per task. */
    epochs: positiveInt,
    batchSize: positiveInt,
    /** lr0. */
    lr: z.number().positive(),
    /** Per-epoch learning-rate schedule (core's `LrScheduleName`; reference `coda-cosine`). */
    schedule: z.enum(['cosine', 'coda-cosine', 'constant']).optional(),
    /** Drop the last incomplete batch (reference: true). */
    dropLast: z.boolean().optional(),
    /** Cap on steps per epoch (tests / smoke runs). */
    maxStepsPerEpoch: positiveInt.optional(),
  })
  .strict();

/**
 * Schema of a continual-distillation experiment, as plain data (`KdpPreset` is inferred from it). Field-level
 * checks are here; the checks that relate fields (layers inside the depth, patch divides the image, ...) are in
 * {@link validateKdpPreset}. Apps extend it (e.g. with a backbone-pretraining recipe) with `.extend`.
 */
export const kdpPresetSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    data: z
      .object({
        /** `@promptkd/datasets` key: `cifar100`, `imagenetR`, `fashionMnist`, ... */
        dataset: z.string().min(1),
        numTasks: positiveInt,
        classesPerTask: positiveInt,
        /** Training / test images per class (absent = all). */
        trainPerClass: positiveInt.optional(),
        testPerClass: positiveInt.optional(),
        /** Training augmentation (RandomResizedCrop + flip in the paper). Caches require false. */
        augment: z.boolean(),
      })
      .strict(),
    teacher: vitShapeSchema,
    student: vitShapeSchema,
    cl: clPresetParamsSchema,
    kd: kdHyperParamsSchema,
    /** Per-task optimisation (teacher and student). */
    training: taskTrainingSchema,
    /** Exact speed-ups without augmentation (spec §8.1): cache q(x) and the teacher's current-task logits. */
    cache: z.object({ queries: z.boolean(), teacherLogits: z.boolean() }).strict(),
    seeds: z.array(z.number().int()).min(1),
  })
  .strict();
/** Hyper-parameters of a continual-distillation experiment, as plain data. */
export type KdpPreset = z.infer<typeof kdpPresetSchema>;

/**
 * In-app backbone pretraining, a CPU stand-in for timm's ImageNet pretraining (kdp-spec §8.2): supervised on a
 * held-out pool of `images` train images (`images / #classes` per class, the first ones of each class), Adam
 * (PyTorch, coupled L2 `weightDecay`), cosine schedule. Used by `prepareCdlBackbone` (`@promptkd/kdp/node`) when no
 * checkpoint is given.
 */
export const backbonePretrainingSchema = z
  .object({ images: positiveInt, epochs: positiveInt, lr: z.number().positive(), weightDecay: z.number().nonnegative(), batchSize: positiveInt })
  .strict();
/** An in-app backbone-pretraining recipe. */
export type BackbonePretraining = z.infer<typeof backbonePretrainingSchema>;

/**
 * A preset as a run uses it: {@link kdpPresetSchema} plus how the frozen backbones are obtained when no checkpoint
 * is given (`pretraining`; absent = timm checkpoints are required). `--set a.b=v` paths follow it.
 */
export const kdpRunPresetSchema = kdpPresetSchema.extend({ pretraining: backbonePretrainingSchema.optional() });
/** A {@link KdpPreset} with an optional {@link BackbonePretraining} recipe. */
export type KdpRunPreset = z.infer<typeof kdpRunPresetSchema>;

const PAPER_KD: z.infer<typeof kdHyperParamsSchema> = {
  alpha: 0.5,
  temperature: 2,
  kdLayers: 12,
  kdPromptLength: 6,
  dkd: { temperature: 4, alpha: 1, beta: 4 },
  fitnetsWeight: 0.1,
  reviewKdWeight: 0.2,
};

const PAPER_CL: ClPresetParams = {
  l2p: { poolSize: 30, length: 20, topK: 5, layers: [0] },
  dualprompt: { eLength: 20, gLength: 6, gLayers: [0, 1], eLayers: [2, 3, 4] },
  coda: { componentsPerTask: 10, length: 8, orthoMu: 0, layers: [0, 1, 2, 3, 4] },
};

const MINI_CL: ClPresetParams = {
  l2p: { poolSize: 10, length: 4, topK: 3, layers: [0] },
  dualprompt: { eLength: 4, gLength: 2, gLayers: [0], eLayers: [1, 2] },
  coda: { componentsPerTask: 4, length: 4, orthoMu: 0, layers: [0, 1] },
};

const vitB: VitShape = { timm: 'vit_base_patch16_224', imageSize: 224, patchSize: 16, channels: 3, dim: 768, depth: 12, heads: 12, mlpRatio: 4 };
const vitS: VitShape = { timm: 'vit_small_patch16_224', imageSize: 224, patchSize: 16, channels: 3, dim: 384, depth: 12, heads: 6, mlpRatio: 4 };
const miniT: VitShape = { imageSize: 28, patchSize: 7, channels: 1, dim: 64, depth: 4, heads: 4, mlpRatio: 2 };
const miniS: VitShape = { imageSize: 28, patchSize: 7, channels: 1, dim: 32, depth: 4, heads: 2, mlpRatio: 2 };

/**
 * Presets: `paper` (Split CIFAR-100, ViT-B→ViT-S, reference hyper-parameters), `paper-imagenet-r`,
 * `cpu` (kdp-spec §8.2 mini-CDL: Fashion-MNIST, D 64→32, depth 4; 5×2 split, 8 epochs per task, 20 paired seeds —
 * the budget and split chosen by the convergence rule in apps/kdp-bench/RESULTS.md),
 * `demo` (a few-minute pipeline check, undertrained: not for comparing methods) and `smoke` (tests: tiny ViTs,
 * 2 tasks × 2 classes, a few steps).
 */
export const kdpPresets = {
  paper: {
    name: 'paper',
    description: 'KDP v3 main setting: Split CIFAR-100 10×10, ViT-B/16 → ViT-S/16 (timm), reference hyper-parameters',
    data: { dataset: 'cifar100', numTasks: 10, classesPerTask: 10, augment: true },
    teacher: vitB,
    student: vitS,
    cl: PAPER_CL,
    kd: PAPER_KD,
    training: { epochs: 20, batchSize: 64, lr: 1e-3, schedule: 'coda-cosine', dropLast: true },
    cache: { queries: false, teacherLogits: false },
    seeds: [1],
  },
  'paper-imagenet-r': {
    name: 'paper-imagenet-r',
    description: 'KDP v3: Split ImageNet-R 10×20, ViT-B/16 → ViT-S/16, 35 epochs',
    data: { dataset: 'imagenetR', numTasks: 10, classesPerTask: 20, augment: true },
    teacher: vitB,
    student: vitS,
    cl: PAPER_CL,
    kd: PAPER_KD,
    training: { epochs: 35, batchSize: 64, lr: 1e-3, schedule: 'coda-cosine', dropLast: true },
    cache: { queries: false, teacherLogits: false },
    seeds: [77],
  },
  cpu: {
    name: 'cpu',
    description:
      'mini-CDL (kdp-spec §8.2) at the converged budget: Fashion-MNIST 5×2 (the split with a ≥ 10-point teacher gap), D 64→32 depth 4 patch 7 (backbones pretrained by the app), 8 epochs per task (the KD head within 2 points of the teacher on the just-learned task), 20 paired seeds',
    data: { dataset: 'fashionMnist', numTasks: 5, classesPerTask: 2, trainPerClass: 1000, testPerClass: 500, augment: false },
    teacher: miniT,
    student: miniS,
    cl: MINI_CL,
    kd: { ...PAPER_KD, kdLayers: 4, kdPromptLength: 2 },
    training: { epochs: 8, batchSize: 64, lr: 1e-3, schedule: 'coda-cosine', dropLast: true },
    cache: { queries: true, teacherLogits: true },
    seeds: Array.from({ length: 20 }, (_, i) => i),
  },
  demo: {
    name: 'demo',
    description:
      'pipeline check (a few minutes): Fashion-MNIST 2×5, 200 train images/class, 2 epochs, one seed; undertrained (the KD head does not converge), so its numbers do not compare the KD methods',
    data: { dataset: 'fashionMnist', numTasks: 2, classesPerTask: 5, trainPerClass: 200, testPerClass: 100, augment: false },
    teacher: miniT,
    student: miniS,
    cl: MINI_CL,
    kd: { ...PAPER_KD, kdLayers: 4, kdPromptLength: 2 },
    training: { epochs: 2, batchSize: 64, lr: 1e-3, schedule: 'coda-cosine', dropLast: true },
    cache: { queries: true, teacherLogits: true },
    seeds: [0],
  },
  smoke: {
    name: 'smoke',
    description: 'test-suite run: tiny ViTs (depth 2, D 24→16, 16 px, patch 4), 2 tasks × 2 classes, 2 steps per epoch',
    data: { dataset: 'fashionMnist', numTasks: 2, classesPerTask: 2, trainPerClass: 8, testPerClass: 4, augment: false },
    teacher: { imageSize: 16, patchSize: 4, channels: 1, dim: 24, depth: 2, heads: 2, mlpRatio: 2 },
    student: { imageSize: 16, patchSize: 4, channels: 1, dim: 16, depth: 2, heads: 2, mlpRatio: 2 },
    cl: {
      l2p: { poolSize: 4, length: 2, topK: 2, layers: [0] },
      dualprompt: { eLength: 2, gLength: 2, gLayers: [0], eLayers: [1] },
      coda: { componentsPerTask: 2, length: 2, orthoMu: 0, layers: [0, 1] },
    },
    kd: { ...PAPER_KD, kdLayers: 2, kdPromptLength: 2 },
    training: { epochs: 1, batchSize: 8, lr: 1e-2, schedule: 'coda-cosine', dropLast: true, maxStepsPerEpoch: 2 },
    cache: { queries: true, teacherLogits: true },
    seeds: [0],
  },
} as const satisfies Record<string, KdpPreset>;

/** Preset names. */
export type KdpPresetName = keyof typeof kdpPresets;

/** The CL-method config (`clConfig` of a run) of a preset for a stream of `numTasks` tasks. */
export function resolveClConfig(preset: KdpPreset, clMethod: string, numTasks: number): Record<string, unknown> {
  switch (clMethod) {
    case 'l2p':
      return { ...preset.cl.l2p };
    case 'dualprompt':
      return { ...preset.cl.dualprompt, poolSize: numTasks };
    case 'coda': {
      const { componentsPerTask, ...rest } = preset.cl.coda;
      return { ...rest, poolSize: componentsPerTask * numTasks, numTasks };
    }
    default:
      throw new ConfigError(`Preset '${preset.name}' has no parameters for CL method '${clMethod}' (l2p, dualprompt, coda).`, { field: 'clMethod' });
  }
}

/**
 * The checks that relate fields of a preset (the schema checks each field): patch size divides the image, heads
 * divide the width, teacher and student see the same tokens, prompted layers exist in both backbones, top-k fits
 * the pool, n_kd fits the student, caches only without augmentation. Returns `p`; throws {@link ConfigError}
 * naming the bad field.
 */
export function validateKdpPreset<P extends KdpPreset>(p: P): P {
  const bad = (field: string, msg: string): never => {
    throw new ConfigError(`Preset '${p.name}': ${field} ${msg}.`, { field });
  };
  for (const [side, v] of [['teacher', p.teacher], ['student', p.student]] as const) {
    if (v.imageSize % v.patchSize !== 0) bad(`${side}.patchSize`, 'must divide imageSize');
    if (v.dim % v.heads !== 0) bad(`${side}.heads`, 'must divide dim');
  }
  if (p.teacher.imageSize !== p.student.imageSize || p.teacher.patchSize !== p.student.patchSize) {
    bad('student.patchSize', 'and imageSize must equal the teacher\'s (feature KD compares token sequences)');
  }
  const depth = Math.min(p.teacher.depth, p.student.depth);
  const layersOk = (ls: readonly number[], field: string) => ls.every((l) => l < depth) || bad(field, `must be block indices in [0, ${depth})`);
  if (p.cl.l2p.topK > p.cl.l2p.poolSize) bad('cl.l2p.topK', 'must not exceed the pool size');
  layersOk(p.cl.l2p.layers, 'cl.l2p.layers');
  layersOk([...p.cl.dualprompt.gLayers, ...p.cl.dualprompt.eLayers], 'cl.dualprompt layers');
  layersOk(p.cl.coda.layers, 'cl.coda.layers');
  if (p.kd.kdLayers > p.student.depth) bad('kd.kdLayers', `must not exceed the student depth ${p.student.depth}`);
  if (p.kd.kdLayers > 1 && p.kd.kdPromptLength % 2 !== 0) bad('kd.kdPromptLength', `must be even (L/2 keys + L/2 values; got ${p.kd.kdPromptLength})`);
  if (p.data.augment && (p.cache.queries || p.cache.teacherLogits)) bad('cache', 'must be off when data.augment is on (caches assume fixed images)');
  return p;
}

/**
 * A preset from untrusted data (e.g. JSON): {@link kdpPresetSchema} (or an app's extension of it), then
 * {@link validateKdpPreset}. Throws {@link ConfigError} naming every bad field.
 */
export function parseKdpPreset<S extends typeof kdpPresetSchema>(raw: unknown, source: string, schema?: S): z.output<S> {
  return validateKdpPreset(parseWithSchema(source, schema ?? kdpPresetSchema, raw) as z.output<S>);
}
