import type * as tf from '@tensorflow/tfjs';
import type { VisionTransformer } from '@promptkd/models';
import type { PromptableForward, PromptableForwardOptions, PromptableViT } from './types.js';

/**
 * Adapts `@promptkd/models`' {@link VisionTransformer} (timm names) to {@link PromptableViT}: prefixes are
 * passed per block, extra tokens are appended after the patch tokens without positional embedding, and
 * the final-norm token sequence (`tokens` tap) and block outputs (`blocks.i` taps) are returned.
 * The ViT is frozen here (`setTrainable(false)`): prompt methods never update the backbone.
 */
export function fromVisionTransformer(vit: VisionTransformer): PromptableViT {
  vit.setTrainable(false);
  const blockTaps = Array.from({ length: vit.depth }, (_, i) => `blocks.${i}`);
  return {
    embedDim: vit.dim,
    depth: vit.depth,
    numHeads: vit.heads,
    forward(x: tf.Tensor4D, options: PromptableForwardOptions = {}): PromptableForward {
      const out = vit.apply(x, {
        ...(options.prefixes ? { prefixes: options.prefixes } : {}),
        ...(options.extraTokens ? { extraTokens: options.extraTokens } : {}),
        taps: options.blockOutputs ? ['tokens', ...blockTaps] : ['tokens'],
        ...(options.noGrad ? { noGrad: true } : {}),
      });
      out.logits.dispose();
      const tokens = out.taps.tokens as tf.Tensor3D;
      return options.blockOutputs ? { tokens, blocks: blockTaps.map((k) => out.taps[k] as tf.Tensor3D) } : { tokens };
    },
    variables: () => [...vit.namedVariables().values()],
  };
}
