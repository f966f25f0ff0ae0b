/**
 * The benchmark's presets as validated data: a `@promptkd/kdp` preset (`KdpPreset`) with the app's dataset key
 * and backbone-pretraining recipe. `paper` = the v3 main setting (Split CIFAR-100, ViT-B → ViT-S from timm
 * checkpoints); `cpu` = the kdp-spec §8.2 miniature on Fashion-MNIST; `demo` = a few-minute version; `smoke` =
 * the test-suite cell (tiny ViTs, 2 × 2 classes, 2 steps per epoch).
 */
import { z } from 'zod';
import { ConfigError } from '@promptkd/core';
import { applyOverrides, parseConfig, parseSetOverrides } from '@promptkd/experiments';
import { kdpPresets, validateKdpPreset, type KdpPreset } from '@promptkd/kdp';

const int = z.number().int();
const pos = z.number().int().positive();
const layers = z.array(int.nonnegative());

const vitShape = z.object({
  timm: z.string().optional(),
  imageSize: pos,
  patchSize: pos,
  channels: pos,
  dim: pos,
  depth: pos,
  heads: pos,
  mlpRatio: z.number().positive(),
});

/** Schema of a bench preset (a `KdpPreset` + the app's pretraining recipe). `--set a.b=v` paths follow it. */
export const benchPresetSchema = z.object({
  name: z.string(),
  description: z.string(),
  data: z.object({
    /** `@promptkd/datasets` key: `fashionMnist` (offline default), `cifar100`, `imagenetR`. */
    dataset: z.string(),
    numTasks: pos,
    classesPerTask: pos,
    /** CL-stream training images per class (taken after the pretraining pool). Absent = all remaining. */
    trainPerClass: pos.optional(),
    testPerClass: pos.optional(),
    augment: z.boolean(),
  }),
  teacher: vitShape,
  student: vitShape,
  /**
   * In-app backbone pretraining, a CPU stand-in for timm's ImageNet pretraining (kdp-spec §8.2): supervised
   * on a held-out pool of `images` train images (`images / #classes` per class, the first ones of each class),
   * Adam (PyTorch, coupled L2 `weightDecay`), cosine. Absent = timm checkpoints are required.
   */
  pretraining: z
    .object({ images: pos, epochs: pos, lr: z.number().positive(), weightDecay: z.number().nonnegative(), batchSize: pos })
    .optional(),
  cl: z.object({
    l2p: z.object({ poolSize: pos, length: pos, topK: pos, layers }),
    dualprompt: z.object({ eLength: pos, gLength: pos, gLayers: layers, eLayers: layers }),
    coda: z.object({ componentsPerTask: pos, length: pos, orthoMu: z.number().nonnegative(), layers }),
  }),
  kd: z.object({
    alpha: z.number(),
    temperature: z.number(),
    kdLayers: pos,
    kdPromptLength: pos,
    dkd: z.object({ temperature: z.number().positive(), alpha: z.number(), beta: z.number() }),
    fitnetsWeight: z.number(),
    reviewKdWeight: z.number(),
  }),
  training: z.object({
    epochs: pos,
    batchSize: pos,
    lr: z.number().positive(),
    schedule: z.enum(['coda-cosine', 'constant']).optional(),
    dropLast: z.boolean().optional(),
    maxStepsPerEpoch: pos.optional(),
  }),
  cache: z.object({ queries: z.boolean(), teacherLogits: z.boolean() }),
  seeds: z.array(int),
});
export type BenchPreset = z.infer<typeof benchPresetSchema>;

export const PRESET_NAMES = ['paper', 'paper-imagenet-r', 'cpu', 'demo', 'smoke'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

/** Library dataset names → `@promptkd/datasets` keys. */
const DATASET_KEY: Record<string, string> = { 'fashion-mnist': 'fashionMnist', 'imagenet-r': 'imagenetR', cifar100: 'cifar100' };

const fromLibrary = (p: KdpPreset): BenchPreset => ({
  ...structuredClone(p as unknown as BenchPreset),
  data: { ...p.data, dataset: DATASET_KEY[p.data.dataset] ?? p.data.dataset },
});

/**
 * The presets. `cpu`/`demo` reuse `kdpPresets` unchanged except for one documented deviation: pretraining
 * uses weight decay 0 (our pretraining optimiser is PyTorch Adam with coupled L2 — a coupled 0.05 would act
 * very differently from the spec's AdamW 0.05). `smoke` keeps the library's tiny shapes at 28 px (patch 7)
 * so it runs on Fashion-MNIST (or any IDX folder via `--data-root`).
 */
export const benchPresets: Record<PresetName, BenchPreset> = {
  paper: fromLibrary(kdpPresets.paper),
  'paper-imagenet-r': fromLibrary(kdpPresets['paper-imagenet-r']),
  cpu: applyOverrides(fromLibrary(kdpPresets.cpu), { pretraining: { weightDecay: 0 } }),
  demo: applyOverrides(fromLibrary(kdpPresets.demo), { pretraining: { weightDecay: 0 } }),
  smoke: applyOverrides(fromLibrary(kdpPresets.smoke), {
    data: { dataset: 'fashionMnist', trainPerClass: 8, testPerClass: 4 },
    teacher: { imageSize: 28, patchSize: 7 },
    student: { imageSize: 28, patchSize: 7 },
    pretraining: { images: 40, epochs: 1, lr: 1e-3, weightDecay: 0, batchSize: 20 },
  }),
};

/** `2x5` → 2 tasks × 5 classes. */
export function parseSplit(split: string): { numTasks: number; classesPerTask: number } {
  const m = /^(\d+)x(\d+)$/.exec(split);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) {
    throw new ConfigError(`Split '${split}' must look like <tasks>x<classes per task>, e.g. 2x5 or 5x2.`, { field: 'split' });
  }
  return { numTasks: Number(m[1]), classesPerTask: Number(m[2]) };
}

/**
 * A preset with a split and `--set` overrides applied, validated by the schema and by `validateKdpPreset`.
 * Throws {@link ConfigError} naming the bad field.
 */
export function resolvePresetConfig(name: string, options: { split?: string; dataset?: string; set?: readonly string[]; overrides?: Record<string, unknown> } = {}): BenchPreset {
  if (!(PRESET_NAMES as readonly string[]).includes(name)) {
    throw new ConfigError(`Unknown preset '${name}'. Valid: ${PRESET_NAMES.join(', ')}.`, { field: 'preset', valid: PRESET_NAMES });
  }
  let p: BenchPreset = benchPresets[name as PresetName];
  if (options.split) p = applyOverrides(p, { data: parseSplit(options.split) });
  if (options.dataset) p = applyOverrides(p, { data: { dataset: options.dataset } });
  if (options.overrides) p = applyOverrides(p, options.overrides);
  if (options.set?.length) p = applyOverrides(p, parseSetOverrides(benchPresetSchema, options.set));
  const parsed = parseConfig(benchPresetSchema, p, `preset '${name}'`);
  validateKdpPreset(parsed as unknown as KdpPreset);
  return parsed;
}
