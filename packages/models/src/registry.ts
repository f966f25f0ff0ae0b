import { createRegistry, type Registry } from '@promptkd/core';
import { BnCnn, type BnCnnConfig } from './bn-cnn.js';
import type { FunctionalClassifier } from './classifier-base.js';
import { ResNet, resnetLayouts, type ResNetConfig } from './resnet.js';
import { VggBn, type VggBnConfig } from './vgg.js';
import { VisionTransformer, vitPresets, type VitConfig } from './vit.js';

/** A registered model factory: takes the user's config (merged over the entry's defaults). */
export type ModelFactory = (config: object) => FunctionalClassifier;

/** Registry of every classifier in this package (`createModel(key, config)`). */
export const modelRegistry: Registry<ModelFactory> = createRegistry<ModelFactory>('model');

const he2016 = { citation: 'He et al., 2016', title: 'Deep Residual Learning for Image Recognition', url: 'https://arxiv.org/abs/1512.03385' };
const vgg2015 = { citation: 'Simonyan & Zisserman, 2015', title: 'Very Deep Convolutional Networks for Large-Scale Image Recognition', url: 'https://arxiv.org/abs/1409.1556' };
const vit2021 = { citation: 'Dosovitskiy et al., 2021', title: 'An Image is Worth 16x16 Words', url: 'https://arxiv.org/abs/2010.11929' };
const kdp = { citation: 'KDP (continual distillation with prompts), kdp-spec §8.2 miniature' };

const named = <C extends object>(key: string, defaults: object, make: (c: C) => FunctionalClassifier): ModelFactory =>
  (config) => make({ name: key, ...defaults, ...config } as C);

modelRegistry.register('bnCnn', {
  description: 'small BatchNorm CNN (conv3×3-BN-ReLU(-maxpool) blocks, GAP, linear); nn.Sequential names; the CPU workhorse',
  create: named<BnCnnConfig>('bnCnn', {}, (c) => new BnCnn(c)),
});
for (const [key, layout] of [['resnet18Cifar', 'resnet18'], ['resnet34Cifar', 'resnet34'], ['resnet50Cifar', 'resnet50']] as const) {
  modelRegistry.register(key, {
    description: `CIFAR ${layout} (CMI/DAFL resnet.py: 3×3 stem, shortcut.*, linear head)`,
    paper: he2016,
    create: named<ResNetConfig>(key, { variant: 'cifar', ...resnetLayouts[layout] }, (c) => new ResNet(c)),
  });
}
for (const layout of ['resnet18', 'resnet50'] as const) {
  modelRegistry.register(layout, {
    description: `torchvision ${layout} (7×7/2 stem + max-pool, downsample.*, fc head); KiOP's sources and hosts`,
    paper: he2016,
    create: named<ResNetConfig>(layout, { variant: 'torchvision', ...resnetLayouts[layout] }, (c) => new ResNet(c)),
  });
}
modelRegistry.register('vgg13Bn', {
  description: 'torchvision vgg13_bn (features.N / classifier.N, adaptive avg-pool 7×7)',
  paper: vgg2015,
  create: named<VggBnConfig>('vgg13Bn', {}, (c) => new VggBn(c)),
});
modelRegistry.register('vit', {
  description: 'timm VisionTransformer, fully configurable (defaults = vitMini)',
  paper: vit2021,
  create: named<VitConfig>('vit', vitPresets.vitMini, (c) => new VisionTransformer(c)),
});
const vitDescriptions: Record<keyof typeof vitPresets, string> = {
  vitTiny: 'timm vit_tiny_patch16_224 (D=192, 12 blocks, 3 heads)',
  vitSmall: 'timm vit_small_patch16_224 (D=384, 12 blocks, 6 heads)',
  vitBase: 'timm vit_base_patch16_224 (D=768, 12 blocks, 12 heads)',
  vitLarge: 'timm vit_large_patch16_224 (D=1024, 24 blocks, 16 heads)',
  vitMini: 'CPU ViT: 32 px, patch 4, D=128, 6 blocks, 4 heads',
  vitCdlTeacher: 'mini-CDL teacher: 28 px grey, patch 7, D=64, 4 blocks, 4 heads, MLP ratio 2',
  vitCdlStudent: 'mini-CDL student: 28 px grey, patch 7, D=32, 4 blocks, 2 heads, MLP ratio 2',
};
for (const key of Object.keys(vitPresets) as (keyof typeof vitPresets)[]) {
  modelRegistry.register(key, {
    description: vitDescriptions[key],
    paper: key.startsWith('vitCdl') ? kdp : vit2021,
    create: named<VitConfig>(key, vitPresets[key], (c) => new VisionTransformer(c)),
  });
}

/** Keys whose models are {@link VisionTransformer}s. */
export type VitModelKey = 'vit' | keyof typeof vitPresets;

/**
 * Creates a registered model. `config` is merged over the entry's preset (e.g. `vitTiny` sets D=192...), so
 * `createModel('resnet18', { numClasses: 43, widths: [16, 32, 64, 128] })` gives a narrow torchvision ResNet-18.
 *
 * @example
 * const vit = createModel('vitMini', { numClasses: 100, seed: 1 });
 * const { logits, taps } = vit.apply(x, { taps: ['cls'] });
 */
export function createModel(key: VitModelKey, config?: VitConfig): VisionTransformer;
export function createModel(key: 'bnCnn', config?: BnCnnConfig): BnCnn;
export function createModel(key: 'resnet18' | 'resnet50' | 'resnet18Cifar' | 'resnet34Cifar' | 'resnet50Cifar', config?: ResNetConfig): ResNet;
export function createModel(key: 'vgg13Bn', config?: VggBnConfig): VggBn;
export function createModel(key: string, config?: object): FunctionalClassifier;
export function createModel(key: string, config: object = {}): FunctionalClassifier {
  return modelRegistry.get(key).create(config);
}

/**
 * Small configs for every registered key (same code path, CPU-cheap sizes) used by the conformance test
 * and handy for smoke runs. A newly registered model must add an entry here.
 */
export const modelSmokeConfigs: Readonly<Record<string, object>> = {
  bnCnn: { blocks: [4, 8], numClasses: 3 },
  resnet18Cifar: { widths: [4, 4, 8, 8], numClasses: 3 },
  resnet34Cifar: { widths: [2, 2, 4, 4], numClasses: 3 },
  resnet50Cifar: { widths: [2, 2, 2, 4], numClasses: 3 },
  resnet18: { widths: [4, 4, 8, 8], numClasses: 3 },
  resnet50: { widths: [2, 2, 2, 4], numClasses: 3 },
  vgg13Bn: { widths: [4, 4, 8, 8, 8], hidden: 8, numClasses: 3 },
  vit: { imageSize: 16, patchSize: 8, dim: 16, depth: 2, heads: 2, numClasses: 3 },
  vitTiny: { imageSize: 32, dim: 12, depth: 1, numClasses: 3 },
  vitSmall: { imageSize: 32, dim: 12, depth: 1, numClasses: 3 },
  vitBase: { imageSize: 32, dim: 12, depth: 1, numClasses: 3 },
  vitLarge: { imageSize: 32, dim: 16, depth: 1, numClasses: 3 },
  vitMini: { dim: 16, depth: 2, heads: 2, numClasses: 3 },
  vitCdlTeacher: { numClasses: 3 },
  vitCdlStudent: { numClasses: 3 },
};
