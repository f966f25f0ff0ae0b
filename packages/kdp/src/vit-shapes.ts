import { ConfigError } from '@promptkd/core';
import { vitPresets } from '@promptkd/models';
import type { VitShape } from './presets.js';

/** The timm checkpoint names of the `@promptkd/models` ViT presets that have one. */
const TIMM: Readonly<Record<string, string>> = {
  vitTiny: 'vit_tiny_patch16_224',
  vitSmall: 'vit_small_patch16_224',
  vitBase: 'vit_base_patch16_224',
  vitLarge: 'vit_large_patch16_224',
};

/** Names {@link vitShapeOf} accepts: the `@promptkd/models` ViT presets (`vitTiny` … `vitLarge`, `vitCdlTeacher`, ...). */
export const VIT_SHAPE_NAMES = Object.keys(vitPresets) as readonly (keyof typeof vitPresets)[];

/**
 * A preset's `teacher` / `student` shape from a `@promptkd/models` ViT preset name, with its timm checkpoint name
 * where there is one (e.g. to swap backbones from the command line). Throws {@link ConfigError} for other names.
 *
 * @example
 * ```ts
 * const preset = { ...kdpPresets.paper, student: vitShapeOf('vitTiny') }; // timm vit_tiny_patch16_224
 * ```
 */
export function vitShapeOf(name: string): VitShape {
  if (!(VIT_SHAPE_NAMES as readonly string[]).includes(name)) {
    throw new ConfigError(`Unknown ViT shape '${name}'. Valid: ${VIT_SHAPE_NAMES.join(', ')}.`, { field: 'backbone', valid: VIT_SHAPE_NAMES });
  }
  const v = vitPresets[name as keyof typeof vitPresets] as { imageSize: number; patchSize: number; dim: number; depth: number; heads: number; mlpRatio: number; inputChannels?: number };
  return {
    ...(TIMM[name] ? { timm: TIMM[name] } : {}),
    imageSize: v.imageSize,
    patchSize: v.patchSize,
    channels: v.inputChannels ?? 3,
    dim: v.dim,
    depth: v.depth,
    heads: v.heads,
    mlpRatio: v.mlpRatio,
  };
}
