import { createRegistry, type Registry } from '@promptkd/core';
import { AdditivePad, type AdditivePadConfig } from './additive-pad.js';
import { ExpansivePad, type ExpansivePadConfig } from './expansive-pad.js';
import { FixedPatch, type PatchConfig } from './fixed-patch.js';
import { FullOverlay, type FullOverlayConfig } from './full-overlay.js';
import type { VisualPrompt } from './prompt.js';
import { RandomPatch } from './random-patch.js';
import { ReprogramPad, type ReprogramPadConfig } from './reprogram-pad.js';
import { SegmentedPrompt, type SegmentedPromptConfig } from './segmented-prompt.js';

/**
 * Config type of every registered prompt type, by key. Third parties add their own with declaration merging:
 * `declare module '@promptkd/visual-prompt' { interface PromptConfigs { myPrompt: MyConfig } }`.
 */
export interface PromptConfigs {
  expansivePad: ExpansivePadConfig;
  segmented: SegmentedPromptConfig;
  additivePad: AdditivePadConfig;
  fixedPatch: PatchConfig;
  randomPatch: PatchConfig;
  fullOverlay: FullOverlayConfig;
  reprogramPad: ReprogramPadConfig;
}

/**
 * A prompt factory: builds a prompt from a (validated) config, and carries a small example config that the
 * registry conformance test and the docs use.
 */
export interface PromptFactory<C = never> {
  (config: C): VisualPrompt;
  /** A small, valid config (keep shapes tiny: the conformance test runs it on wasm). */
  readonly example: C;
}

/** Builds a {@link PromptFactory} from a constructor-like function and an example config. */
export function definePromptType<C>(create: (config: C) => VisualPrompt, example: C): PromptFactory<C> {
  return Object.assign((config: C) => create(config), { example });
}

/** Every prompt type: `promptRegistry.get('expansivePad').create({inputSize: 32, outputSize: 36})`. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- entries have different config types; createPrompt() types them
export const promptRegistry: Registry<PromptFactory<any>> = createRegistry<PromptFactory<any>>('prompt type');

const KIOP = {
  citation: 'Li et al., ECCV 2024 (KiOP); Chen et al., CVPR 2023 (ILM-VP)',
  title: 'Encapsulating Knowledge in One Prompt',
  url: 'https://github.com/LiQiiiii/Encapsulating-Knowledge-In-One-Prompt',
};
const BAHNG = {
  citation: 'Bahng et al., 2022',
  title: 'Exploring Visual Prompts for Adapting Large-Scale Models',
  url: 'https://arxiv.org/abs/2203.17274',
};

promptRegistry.register('expansivePad', {
  description: 'Pad an n×n image to m×m, ring = sigmoid(θ)⊙M, θ zero-init, image not resized',
  paper: KIOP,
  create: definePromptType<ExpansivePadConfig>((c) => new ExpansivePad(c), { inputSize: 4, outputSize: 8 }),
});
promptRegistry.register('segmented', {
  description: 'Chain of N nested expansive pads (Prompt Core, Prompt Periphery, …), applicable up to segment k',
  paper: { ...KIOP, citation: 'Li et al., ECCV 2024 (KiOP)' },
  create: definePromptType<SegmentedPromptConfig>((c) => new SegmentedPrompt(c), { sizes: [4, 6, 10] }),
});
promptRegistry.register('additivePad', {
  description: 'Learnable border of width p added onto an image of the canvas size, N(0,1) init',
  paper: BAHNG,
  create: definePromptType<AdditivePadConfig>((c) => new AdditivePad(c), { size: 8, padSize: 2, seed: 1 }),
});
promptRegistry.register('fixedPatch', {
  description: 'Learnable p×p patch added at the top-left corner',
  paper: BAHNG,
  create: definePromptType<PatchConfig>((c) => new FixedPatch(c), { size: 8, patchSize: 3, seed: 1 }),
});
promptRegistry.register('randomPatch', {
  description: 'Learnable p×p patch added at a seeded random position, redrawn every call',
  paper: BAHNG,
  create: definePromptType<PatchConfig>((c) => new RandomPatch(c), { size: 8, patchSize: 3, seed: 1 }),
});
promptRegistry.register('fullOverlay', {
  description: 'Learnable perturbation δ over the whole image, y = x + δ',
  paper: BAHNG,
  create: definePromptType<FullOverlayConfig>((c) => new FullOverlay(c), { size: 6, init: 'normal', seed: 1 }),
});
promptRegistry.register('reprogramPad', {
  description: 'Adversarial reprogramming: pad n×n to m×m, ring = tanh(W⊙M)',
  paper: {
    citation: 'Elsayed et al., ICLR 2019',
    title: 'Adversarial Reprogramming of Neural Networks',
    url: 'https://arxiv.org/abs/1806.11146',
  },
  create: definePromptType<ReprogramPadConfig>((c) => new ReprogramPad(c), { inputSize: 4, outputSize: 8 }),
});

/**
 * Creates a prompt by registry key; the config is type-checked per key for the built-in types
 * (and any type added to {@link PromptConfigs}). Configs are validated at run time as well (`ConfigError`).
 */
export function createPrompt<K extends keyof PromptConfigs>(key: K, config: PromptConfigs[K]): VisualPrompt;
export function createPrompt(key: string, config: unknown): VisualPrompt;
export function createPrompt(key: string, config: unknown): VisualPrompt {
  const factory = promptRegistry.get(key).create as (config: unknown) => VisualPrompt;
  return factory(config);
}
