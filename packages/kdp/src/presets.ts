import { ConfigError } from '@promptkd/core';
import type { CodaPromptConfig, DualPromptConfig, L2PConfig, TaskTrainingOptions } from '@promptkd/continual';
import type { KdHyperParams } from './types.js';

/** A ViT shape (timm-compatible). `timm` names the pretrained checkpoint when there is one. */
export interface VitShape {
  readonly timm?: string;
  readonly imageSize: number;
  readonly patchSize: number;
  readonly channels: number;
  readonly dim: number;
  readonly depth: number;
  readonly heads: number;
  readonly mlpRatio: number;
}

/** CL-method hyper-parameters of a preset. CODA's pool is `componentsPerTask × numTasks`; DualPrompt's pool = numTasks. */
export interface ClPresetParams {
  readonly l2p: L2PConfig;
  readonly dualprompt: Omit<DualPromptConfig, 'poolSize'>;
  readonly coda: Omit<CodaPromptConfig, 'poolSize' | 'numTasks'> & { readonly componentsPerTask: number };
}

/** Hyper-parameters of a continual-distillation experiment, as plain data. */
export interface KdpPreset {
  readonly name: string;
  readonly description: string;
  readonly data: {
    /** Dataset key for the app (`cifar100`, `imagenet-r`, `fashion-mnist`, `synthetic`). */
    readonly dataset: string;
    readonly numTasks: number;
    readonly classesPerTask: number;
    /** Training / test images per class (undefined = all). */
    readonly trainPerClass?: number;
    readonly testPerClass?: number;
    /** Training augmentation (RandomResizedCrop + flip in the paper). Caches require false. */
    readonly augment: boolean;
  };
  readonly teacher: VitShape;
  readonly student: VitShape;
  /** Local backbone pretraining when no timm weights exist (spec §8.2); absent = use pretrained checkpoints. */
  readonly pretraining?: { readonly images: number; readonly epochs: number; readonly lr: number; readonly weightDecay: number; readonly batchSize: number };
  readonly cl: ClPresetParams;
  readonly kd: KdHyperParams;
  /** Per-task optimisation (teacher and student). */
  readonly training: TaskTrainingOptions;
  readonly cache: { readonly queries: boolean; readonly teacherLogits: boolean };
  readonly seeds: readonly number[];
}

const PAPER_KD: KdHyperParams = {
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
 * `cpu` (kdp-spec §8.2 mini-CDL: Fashion-MNIST, D 64→32, depth 4, 2×5 split, 4 epochs, 5 seeds),
 * `demo` (a few-minute version of `cpu`) and `smoke` (tests: tiny ViTs, 2 tasks × 2 classes, a few steps).
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
    data: { dataset: 'imagenet-r', numTasks: 10, classesPerTask: 20, augment: true },
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
    description: 'mini-CDL (kdp-spec §8.2): Fashion-MNIST 2×5, D 64→32 depth 4 patch 7, locally pretrained backbones, 4 epochs, 5 paired seeds',
    data: { dataset: 'fashion-mnist', numTasks: 2, classesPerTask: 5, trainPerClass: 1000, testPerClass: 500, augment: false },
    teacher: miniT,
    student: miniS,
    pretraining: { images: 10000, epochs: 3, lr: 1e-3, weightDecay: 0.05, batchSize: 64 },
    cl: MINI_CL,
    kd: { ...PAPER_KD, kdLayers: 4, kdPromptLength: 2 },
    training: { epochs: 4, batchSize: 64, lr: 1e-3, schedule: 'coda-cosine', dropLast: true },
    cache: { queries: true, teacherLogits: true },
    seeds: [0, 1, 2, 3, 4],
  },
  demo: {
    name: 'demo',
    description: 'a few-minute mini-CDL: Fashion-MNIST 2×5, 200 train images/class, 2 epochs, one seed',
    data: { dataset: 'fashion-mnist', numTasks: 2, classesPerTask: 5, trainPerClass: 200, testPerClass: 100, augment: false },
    teacher: miniT,
    student: miniS,
    pretraining: { images: 4000, epochs: 2, lr: 1e-3, weightDecay: 0.05, batchSize: 64 },
    cl: MINI_CL,
    kd: { ...PAPER_KD, kdLayers: 4, kdPromptLength: 2 },
    training: { epochs: 2, batchSize: 64, lr: 1e-3, schedule: 'coda-cosine', dropLast: true },
    cache: { queries: true, teacherLogits: true },
    seeds: [0],
  },
  smoke: {
    name: 'smoke',
    description: 'test-suite run: tiny ViTs (depth 2, D 24→16, 16 px, patch 4), 2 tasks × 2 classes, 2 steps per epoch',
    data: { dataset: 'synthetic', numTasks: 2, classesPerTask: 2, trainPerClass: 8, testPerClass: 4, augment: false },
    teacher: { imageSize: 16, patchSize: 4, channels: 1, dim: 24, depth: 2, heads: 2, mlpRatio: 2 },
    student: { imageSize: 16, patchSize: 4, channels: 1, dim: 16, depth: 2, heads: 2, mlpRatio: 2 },
    pretraining: { images: 64, epochs: 1, lr: 1e-3, weightDecay: 0.05, batchSize: 16 },
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

/** Checks a preset (e.g. one loaded from JSON); throws {@link ConfigError} naming the bad field. */
export function validateKdpPreset(p: KdpPreset): KdpPreset {
  const bad = (field: string, msg: string): never => {
    throw new ConfigError(`Preset '${p.name}': ${field} ${msg}.`, { field });
  };
  const posInt = (v: number, field: string) => (Number.isInteger(v) && v > 0 ? undefined : bad(field, `must be a positive integer (got ${v})`));
  const even = (v: number, field: string) => (posInt(v, field), v % 2 === 0 ? undefined : bad(field, `must be even (L/2 keys + L/2 values; got ${v})`));
  posInt(p.data.numTasks, 'data.numTasks');
  posInt(p.data.classesPerTask, 'data.classesPerTask');
  for (const [side, v] of [['teacher', p.teacher], ['student', p.student]] as const) {
    for (const k of ['imageSize', 'patchSize', 'channels', 'dim', 'depth', 'heads'] as const) posInt(v[k], `${side}.${k}`);
    if (v.imageSize % v.patchSize !== 0) bad(`${side}.patchSize`, 'must divide imageSize');
    if (v.dim % v.heads !== 0) bad(`${side}.heads`, 'must divide dim');
  }
  if (p.teacher.imageSize !== p.student.imageSize || p.teacher.patchSize !== p.student.patchSize) {
    bad('student.patchSize', 'and imageSize must equal the teacher\'s (feature KD compares token sequences)');
  }
  const depth = Math.min(p.teacher.depth, p.student.depth);
  const layersOk = (ls: readonly number[], field: string) => ls.every((l) => Number.isInteger(l) && l >= 0 && l < depth) || bad(field, `must be block indices in [0, ${depth})`);
  even(p.cl.l2p.length, 'cl.l2p.length');
  posInt(p.cl.l2p.poolSize, 'cl.l2p.poolSize');
  if (p.cl.l2p.topK > p.cl.l2p.poolSize) bad('cl.l2p.topK', 'must not exceed the pool size');
  layersOk(p.cl.l2p.layers, 'cl.l2p.layers');
  even(p.cl.dualprompt.eLength, 'cl.dualprompt.eLength');
  even(p.cl.dualprompt.gLength, 'cl.dualprompt.gLength');
  layersOk([...p.cl.dualprompt.gLayers, ...p.cl.dualprompt.eLayers], 'cl.dualprompt layers');
  even(p.cl.coda.length, 'cl.coda.length');
  posInt(p.cl.coda.componentsPerTask, 'cl.coda.componentsPerTask');
  layersOk(p.cl.coda.layers, 'cl.coda.layers');
  if (!(p.kd.alpha >= 0 && p.kd.alpha <= 1)) bad('kd.alpha', 'must be in [0, 1]');
  if (!(p.kd.temperature > 0)) bad('kd.temperature', 'must be > 0');
  posInt(p.kd.kdLayers, 'kd.kdLayers');
  if (p.kd.kdLayers > p.student.depth) bad('kd.kdLayers', `must not exceed the student depth ${p.student.depth}`);
  if (p.kd.kdLayers > 1) even(p.kd.kdPromptLength, 'kd.kdPromptLength');
  posInt(p.training.epochs, 'training.epochs');
  posInt(p.training.batchSize, 'training.batchSize');
  if (!(p.training.lr > 0)) bad('training.lr', 'must be > 0');
  if (p.data.augment && (p.cache.queries || p.cache.teacherLogits)) bad('cache', 'must be off when data.augment is on (caches assume fixed images)');
  if (p.seeds.length === 0) bad('seeds', 'needs at least one seed');
  return p;
}
