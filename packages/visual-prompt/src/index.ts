export {
  BasePrompt,
  assertImageBatch,
  type ImageShape,
  type ParameterCount,
  type PromptPattern,
  type SegmentInfo,
  type VariableSpec,
  type VisualPrompt,
} from './prompt.js';
export { ExpansivePad, expansivePadOp, expansivePadding, ringMask, type ExpansivePadConfig } from './expansive-pad.js';
export { SegmentedPrompt, type SegmentedApplyOptions, type SegmentedPromptConfig } from './segmented-prompt.js';
export { AdditivePad, type AdditivePadConfig } from './additive-pad.js';
export { FixedPatch, type PatchConfig } from './fixed-patch.js';
export { RandomPatch } from './random-patch.js';
export { FullOverlay, type FullOverlayConfig } from './full-overlay.js';
export { ReprogramPad, type ReprogramPadConfig } from './reprogram-pad.js';
export { normalInit } from './normal-init.js';
export {
  createPrompt,
  definePromptType,
  promptRegistry,
  type PromptConfigs,
  type PromptFactory,
} from './registry.js';
export { decodeSafetensors, encodeSafetensors, type SafetensorsContent, type StoredTensor } from './safetensors.js';
export {
  decodePromptArtifact,
  encodePromptArtifact,
  loadPromptArtifactFrom,
  type LoadedPromptArtifact,
  type PromptArtifactInput,
  type PromptArtifactMetadata,
  type PromptHostInfo,
  type SavedPromptArtifact,
} from './artifact.js';
export { renderImageGridPng, renderPromptPng, type RenderImageGridOptions, type RenderPromptOptions } from './render-png.js';
export { VisualPromptLayer, visualPromptLayer, type VisualPromptLayerArgs } from './visual-prompt-layer.js';
export { VERSION } from './version.js';
