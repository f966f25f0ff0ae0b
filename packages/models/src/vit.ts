import * as tf from '@tensorflow/tfjs';
import { ConfigError, Rng, ShapeError, fusedVitBlock, linear, qkvAttention, scaledDotAttention, type ApplyOptions, type ModelOutput } from '@promptkd/core';
import { FunctionalClassifier, type BaseModelConfig } from './classifier-base.js';
import { LayerNorm, Linear, gelu, tap, type ForwardContext } from './layers.js';
import { init } from './param-store.js';

/** Prefix key/value tokens for one attention layer, already in the projected space: [N, Lp, D] (or [1, Lp, D], broadcast). */
export interface PrefixKeyValue {
  /** P_K — prefix keys, rank 3 (a `tf.Variable` works directly). */
  readonly key: tf.Tensor;
  /** P_V — prefix values, rank 3. */
  readonly value: tf.Tensor;
}

/**
 * Prefix tuning for one block: `prepend` (CL prompts: `[P_K; K]`) and/or `append` (KDP KD prompts: `[K; P_K]`).
 * Queries come only from the real tokens, so the sequence length is unchanged.
 */
export interface BlockPrefix {
  readonly prepend?: PrefixKeyValue;
  readonly append?: PrefixKeyValue;
}

/** Forward options of a {@link VisionTransformer}. */
export interface VitApplyOptions extends ApplyOptions {
  /** Per-block prefixes, indexed by block number ℓ (array or sparse record). */
  readonly prefixes?: readonly (BlockPrefix | undefined)[] | Readonly<Record<number, BlockPrefix | undefined>>;
  /**
   * Extra tokens [N, E, D] (or [1, E, D]) appended after the patch tokens WITHOUT positional embedding
   * (KDP's KD token, DeiT's distillation token). Their final normed outputs are the `extra` tap.
   */
  readonly extraTokens?: tf.Tensor;
  /**
   * No gradient will be taken through this forward (a frozen teacher, evaluation, cached logits): each block runs as
   * one fused kernel where the backend has it (`fusedVitBlock` of `@promptkd/core`; the native kernels on wasm), the
   * same values to rounding. A gradient asked for through such a forward fails with a ConfigError.
   */
  readonly noGrad?: boolean;
}

/** Config of {@link VisionTransformer} (timm `VisionTransformer`). */
export interface VitConfig extends BaseModelConfig {
  /** Input side length (square). Default 32. */
  readonly imageSize?: number;
  /** Patch side p. Default 4. */
  readonly patchSize?: number;
  /** Embedding width D. Default 128. */
  readonly dim?: number;
  /** Number of blocks L. Default 6. */
  readonly depth?: number;
  /** Attention heads H (D divisible by H). Default 4. */
  readonly heads?: number;
  /** MLP hidden = mlpRatio·D. Default 4. */
  readonly mlpRatio?: number;
  /** Bias in the qkv projection. Default true. */
  readonly qkvBias?: boolean;
  /** LayerNorm eps. Default 1e-6 (timm). */
  readonly layerNormEps?: number;
}

/** Weights of one timm `Attention` in this package's layout ([in, out]). */
export interface AttentionWeights {
  readonly qkvWeight: tf.Tensor2D;
  readonly qkvBias?: tf.Tensor1D;
  readonly projWeight: tf.Tensor2D;
  readonly projBias?: tf.Tensor1D;
}

/** Prefix or extra tokens `[N|1, L, D]` for a batch of N: tiled when given once for the whole batch. */
function forBatch(t: tf.Tensor, n: number): tf.Tensor3D {
  const u = t as tf.Tensor3D;
  if (u.shape[0] === n) return u;
  if (u.shape[0] !== 1) {
    throw new ShapeError(`Prefix/extra tokens have batch ${u.shape[0]}, expected ${n} or 1.`, { actual: u.shape });
  }
  return tf.tile(u, [n, 1, 1]);
}

/** Prefix keys and values must be `[N|1, Lp, D]` with the same Lp, for a batch of N. */
function checkPrefix(prefix: BlockPrefix | undefined, d: number, n: number): void {
  for (const p of [prefix?.prepend, prefix?.append]) {
    if (p && (p.key.rank !== 3 || p.key.shape[2] !== d || p.value.rank !== 3 || p.value.shape[2] !== d || p.key.shape[1] !== p.value.shape[1])) {
      throw new ShapeError(
        `Prefix key/value must be [N, Lp, ${d}] with equal Lp; got key [${p.key.shape.join(', ')}], value [${p.value.shape.join(', ')}].`,
        { key: p.key.shape, value: p.value.shape },
      );
    }
    for (const t of p ? [p.key, p.value] : []) {
      if (t.shape[0] !== n && t.shape[0] !== 1) throw new ShapeError(`Prefix/extra tokens have batch ${t.shape[0]}, expected ${n} or 1.`, { actual: t.shape });
    }
  }
}

/**
 * timm multi-head self-attention with optional prefix tuning:
 * `softmax(q·[P_K^pre; K; P_K^app]ᵀ·d_h^-½)·[P_V^pre; V; P_V^app]`, then the output projection.
 * x: [N, L, D] → [N, L, D].
 *
 * @param heads — H; the head width is d_h = D/H.
 */
export function multiHeadAttention(x: tf.Tensor3D, w: AttentionWeights, heads: number, prefix?: BlockPrefix): tf.Tensor3D {
  const [n, l, d] = x.shape;
  if (d % heads !== 0) throw new ConfigError(`Width ${d} is not divisible by ${heads} heads.`, { field: 'heads' });
  const dh = d / heads;
  checkPrefix(prefix, d, n);
  const qkv = tf.reshape(linear(tf.reshape(x, [n * l, d]), w.qkvWeight, w.qkvBias), [n, l, 3 * d]) as tf.Tensor3D;
  // [N, L, D]: one fused kernel each way where the backend has it, the heads read and written in place
  const attended = prefix && (prefix.prepend || prefix.append) ? prefixedAttention(qkv, heads, prefix, n) : qkvAttention(qkv, heads, dh ** -0.5);
  const y = linear(tf.reshape(attended, [n * l, d]) as tf.Tensor2D, w.projWeight, w.projBias);
  return tf.reshape(y, [n, l, d]);
}

/** Attention with the prefix keys and values around the block's own: qkv `[N, L, 3D]` → `[N, L, D]`. */
function prefixedAttention(qkv: tf.Tensor3D, heads: number, prefix: BlockPrefix, n: number): tf.Tensor3D {
  const dh = qkv.shape[2] / 3 / heads;
  // q, k, v [N, L, D]; head h is the column block [h·d_h, (h+1)·d_h) of each (timm's [3, H, d_h] order)
  const [q, k0, v0] = tf.split(qkv, 3, 2) as [tf.Tensor3D, tf.Tensor3D, tf.Tensor3D];
  const ks: tf.Tensor3D[] = [];
  const vs: tf.Tensor3D[] = [];
  if (prefix.prepend) {
    ks.push(forBatch(prefix.prepend.key, n));
    vs.push(forBatch(prefix.prepend.value, n));
  }
  ks.push(k0);
  vs.push(v0);
  if (prefix.append) {
    ks.push(forBatch(prefix.append.key, n));
    vs.push(forBatch(prefix.append.value, n));
  }
  return scaledDotAttention(q, tf.concat(ks, 1), tf.concat(vs, 1), heads, dh ** -0.5);
}

interface Block {
  norm1: LayerNorm;
  qkv: Linear;
  proj: Linear;
  norm2: LayerNorm;
  fc1: Linear;
  fc2: Linear;
}

/**
 * Vision Transformer with timm parameter names (`patch_embed.proj`, `cls_token`, `pos_embed`,
 * `blocks.i.{norm1,attn.qkv,attn.proj,norm2,mlp.fc1,mlp.fc2}`, `norm`, `head`): patch embedding,
 * [CLS] token, learned position embedding, pre-norm blocks (exact GELU), final LayerNorm, linear head on
 * the normed [CLS]. `numClasses: 0` removes the head (logits = the [CLS] feature, as timm's `num_classes=0`).
 *
 * Insertion points (see {@link VitApplyOptions}): per-block prefix keys/values prepended and/or appended,
 * and extra tokens after the patch tokens without positional embedding.
 * Taps: `tokens` (final normed sequence [N, 1+P+E, D]), `cls` and `features` (normed [CLS], [N, D]),
 * `extra` (normed extra tokens [N, E, D], when given), `blocks.i` (output of block i, [N, 1+P+E, D]).
 *
 * Init (timm `init_weights_vit_timm`): linear weights trunc-normal(0.02), biases 0, `pos_embed`
 * trunc-normal(0.02), `cls_token` N(0, 1e-6), LayerNorm 1/0, patch conv PyTorch default.
 */
export class VisionTransformer extends FunctionalClassifier {
  readonly tapNames: readonly string[];
  readonly imageSize: number;
  readonly patchSize: number;
  readonly dim: number;
  readonly depth: number;
  readonly heads: number;
  readonly numPatches: number;
  private readonly patchWeight: tf.Variable;
  private readonly patchBias: tf.Variable;
  private readonly clsToken: tf.Variable;
  private readonly posEmbed: tf.Variable;
  private readonly blocks: Block[] = [];
  private readonly norm: LayerNorm;
  private readonly head: Linear | undefined;

  constructor(config: VitConfig = {}) {
    const imageSize = config.imageSize ?? 32;
    const patchSize = config.patchSize ?? 4;
    const dim = config.dim ?? 128;
    const depth = config.depth ?? 6;
    const heads = config.heads ?? 4;
    const mlpRatio = config.mlpRatio ?? 4;
    const numClasses = config.numClasses ?? 10;
    const inputChannels = config.inputChannels ?? 3;
    const eps = config.layerNormEps ?? 1e-6;
    if (imageSize % patchSize !== 0) {
      throw new ConfigError(`imageSize ${imageSize} is not a multiple of patchSize ${patchSize}.`, { field: 'patchSize' });
    }
    if (dim % heads !== 0) throw new ConfigError(`dim ${dim} is not divisible by heads ${heads}.`, { field: 'heads' });
    super(config.name ?? 'vit', numClasses, inputChannels, config.normalization, {
      ...config, imageSize, patchSize, dim, depth, heads, mlpRatio, numClasses, inputChannels, layerNormEps: eps,
    });
    this.imageSize = imageSize;
    this.patchSize = patchSize;
    this.dim = dim;
    this.depth = depth;
    this.heads = heads;
    this.numPatches = (imageSize / patchSize) ** 2;
    const rng = Rng.fromSeed(config.seed ?? 0);
    const p = this.params;
    this.clsToken = p.add('cls_token', init.normal([1, 1, dim], 1e-6, rng));
    this.posEmbed = p.add('pos_embed', init.truncatedNormal([1, this.numPatches + 1, dim], 0.02, rng));
    const fanIn = inputChannels * patchSize * patchSize;
    this.patchWeight = p.add('patch_embed.proj.weight', init.torchDefault([patchSize, patchSize, inputChannels, dim], fanIn, rng), 'conv');
    this.patchBias = p.add('patch_embed.proj.bias', init.torchDefault([dim], fanIn, rng));
    const hidden = Math.round(dim * mlpRatio);
    for (let i = 0; i < depth; i++) {
      const b = `blocks.${i}`;
      this.blocks.push({
        norm1: new LayerNorm(p, `${b}.norm1`, dim, eps),
        qkv: new Linear(p, `${b}.attn.qkv`, { inFeatures: dim, outFeatures: 3 * dim, bias: config.qkvBias ?? true, init: 'truncNormal02' }, rng),
        proj: new Linear(p, `${b}.attn.proj`, { inFeatures: dim, outFeatures: dim, init: 'truncNormal02' }, rng),
        norm2: new LayerNorm(p, `${b}.norm2`, dim, eps),
        fc1: new Linear(p, `${b}.mlp.fc1`, { inFeatures: dim, outFeatures: hidden, init: 'truncNormal02' }, rng),
        fc2: new Linear(p, `${b}.mlp.fc2`, { inFeatures: hidden, outFeatures: dim, init: 'truncNormal02' }, rng),
      });
    }
    this.norm = new LayerNorm(p, 'norm', dim, eps);
    this.head = numClasses > 0 ? new Linear(p, 'head', { inFeatures: dim, outFeatures: numClasses, init: 'truncNormal02' }, rng) : undefined;
    this.headNames = this.head ? ['head.weight', 'head.bias'] : [];
    this.tapNames = ['tokens', 'cls', 'features', 'extra', ...this.blocks.map((_, i) => `blocks.${i}`)];
  }

  protected override checkInput(x: tf.Tensor4D): void {
    super.checkInput(x);
    if (x.shape[1] !== this.imageSize || x.shape[2] !== this.imageSize) {
      throw new ShapeError(
        `ViT '${this.name}' was built for ${this.imageSize}×${this.imageSize} inputs (learned position embedding), ` +
          `got ${x.shape[1]}×${x.shape[2]}. Resize the images first.`,
        { expected: this.imageSize, actual: x.shape },
      );
    }
  }

  /** Patch embedding as reshape + matmul (equal to the stride-p conv): [N, H, W, C] → [N, P, D]. */
  private embedPatches(x: tf.Tensor4D): tf.Tensor3D {
    const [n, h, w, c] = x.shape;
    const ps = this.patchSize;
    const gh = h / ps;
    const gw = w / ps;
    const patches = tf.reshape(tf.transpose(tf.reshape(x, [n, gh, ps, gw, ps, c]), [0, 1, 3, 2, 4, 5]), [n * gh * gw, ps * ps * c]) as tf.Tensor2D;
    const emb = linear(patches, tf.reshape(this.patchWeight, [ps * ps * c, this.dim]) as tf.Tensor2D, this.patchBias as tf.Tensor as tf.Tensor1D);
    return tf.reshape(emb, [n, gh * gw, this.dim]);
  }

  /**
   * The block as one fused kernel, or undefined where the backend lacks it: with no gradient (`noGrad`), or
   * differentiable wrt its input and prefixes when every weight of the block is frozen (prompt tuning).
   */
  private fusedBlock(b: Block, x: tf.Tensor3D, prefix: BlockPrefix | undefined, noGrad: boolean): tf.Tensor3D | undefined {
    const w = {
      ln1Gamma: b.norm1.weight, ln1Beta: b.norm1.bias, qkvWeight: b.qkv.weight, qkvBias: b.qkv.bias, projWeight: b.proj.weight, projBias: b.proj.bias,
      ln2Gamma: b.norm2.weight, ln2Beta: b.norm2.bias, fc1Weight: b.fc1.weight, fc1Bias: b.fc1.bias, fc2Weight: b.fc2.weight, fc2Bias: b.fc2.bias,
    };
    if (!noGrad && Object.values(w).some((v) => v?.trainable)) return undefined;
    checkPrefix(prefix, this.dim, x.shape[0]);
    // the kernel takes one batch size per prefix (N or 1); keys and values given differently are composed
    if ([prefix?.prepend, prefix?.append].some((p) => p && p.key.shape[0] !== p.value.shape[0])) return undefined;
    const p = {
      prependKey: prefix?.prepend?.key, prependValue: prefix?.prepend?.value, appendKey: prefix?.append?.key, appendValue: prefix?.append?.value,
    };
    return fusedVitBlock(x, w, this.heads, b.norm1.eps, p, !noGrad);
  }

  private block(b: Block, x: tf.Tensor3D, prefix: BlockPrefix | undefined, noGrad: boolean): tf.Tensor3D {
    const fused = this.fusedBlock(b, x, prefix, noGrad);
    if (fused) return fused;
    const a = multiHeadAttention(b.norm1.apply(x), {
      qkvWeight: b.qkv.weight as tf.Tensor2D,
      qkvBias: b.qkv.bias as tf.Tensor1D | undefined,
      projWeight: b.proj.weight as tf.Tensor2D,
      projBias: b.proj.bias as tf.Tensor1D | undefined,
    }, this.heads, prefix);
    const h = tf.add(x, a);
    return tf.add(h, b.fc2.apply(gelu(b.fc1.apply(b.norm2.apply(h)))));
  }

  /** Forward with prompts/extra tokens; see {@link VitApplyOptions}. */
  override apply(x: tf.Tensor4D, options: VitApplyOptions = {}): ModelOutput {
    const extra = options.extraTokens;
    if (extra && (extra.rank !== 3 || extra.shape[2] !== this.dim)) {
      throw new ShapeError(`extraTokens must be [N, E, ${this.dim}], got [${extra.shape.join(', ')}].`, { actual: extra.shape });
    }
    return super.apply(x, options);
  }

  protected forward(x: tf.Tensor4D, ctx: ForwardContext, options: VitApplyOptions): tf.Tensor2D {
    const n = x.shape[0];
    const patches = tf.add(this.embedPatches(x), tf.slice(this.posEmbed, [0, 1, 0], [1, this.numPatches, this.dim])) as tf.Tensor3D;
    const cls = tf.tile(tf.add(this.clsToken, tf.slice(this.posEmbed, [0, 0, 0], [1, 1, this.dim])), [n, 1, 1]);
    const seq: tf.Tensor3D[] = [cls as tf.Tensor3D, patches];
    const extra = options.extraTokens;
    const e = extra ? (extra.shape[1] as number) : 0;
    if (extra) {
      if (extra.shape[0] !== n && extra.shape[0] !== 1) {
        throw new ShapeError(`extraTokens have batch ${extra.shape[0]}, expected ${n} or 1.`, { actual: extra.shape });
      }
      seq.push((extra.shape[0] === n ? extra : tf.tile(extra, [n, 1, 1])) as tf.Tensor3D);
    }
    let h: tf.Tensor3D = tf.concat(seq, 1);
    const prefixes = options.prefixes as Readonly<Record<number, BlockPrefix | undefined>> | undefined;
    this.blocks.forEach((b, i) => {
      h = this.block(b, h, prefixes?.[i], options.noGrad === true);
      tap(ctx, `blocks.${i}`, h);
    });
    const tokens = this.norm.apply(h);
    tap(ctx, 'tokens', tokens);
    const clsOut = tf.reshape(tf.slice(tokens, [0, 0, 0], [n, 1, this.dim]), [n, this.dim]) as tf.Tensor2D;
    tap(ctx, 'cls', clsOut);
    tap(ctx, 'features', clsOut);
    if (e > 0) tap(ctx, 'extra', tf.slice(tokens, [0, 1 + this.numPatches, 0], [n, e, this.dim]));
    else if (ctx.wanted.has('extra')) throw new ConfigError("Tap 'extra' needs extraTokens.", { field: 'taps' });
    return this.head ? this.head.apply(clsOut) : clsOut;
  }
}

/** Named ViT presets (timm `vit_*_patch16_224` and small CPU configs). */
export const vitPresets = {
  /** timm `vit_tiny_patch16_224`: D=192, 12 blocks, 3 heads. */
  vitTiny: { imageSize: 224, patchSize: 16, dim: 192, depth: 12, heads: 3, mlpRatio: 4, numClasses: 1000 },
  /** timm `vit_small_patch16_224`: D=384, 12 blocks, 6 heads. */
  vitSmall: { imageSize: 224, patchSize: 16, dim: 384, depth: 12, heads: 6, mlpRatio: 4, numClasses: 1000 },
  /** timm `vit_base_patch16_224`: D=768, 12 blocks, 12 heads. */
  vitBase: { imageSize: 224, patchSize: 16, dim: 768, depth: 12, heads: 12, mlpRatio: 4, numClasses: 1000 },
  /** timm `vit_large_patch16_224`: D=1024, 24 blocks, 16 heads. */
  vitLarge: { imageSize: 224, patchSize: 16, dim: 1024, depth: 24, heads: 16, mlpRatio: 4, numClasses: 1000 },
  /** CPU ViT for 32×32 RGB: patch 4 (64 patches), D=128, 6 blocks, 4 heads, MLP ratio 4. */
  vitMini: { imageSize: 32, patchSize: 4, dim: 128, depth: 6, heads: 4, mlpRatio: 4, numClasses: 10 },
  /** kdp-spec §8.2 mini-CDL teacher: 28×28 grey, patch 7 (16 patches), D=64, depth 4, 4 heads, MLP ratio 2. */
  vitCdlTeacher: { imageSize: 28, patchSize: 7, inputChannels: 1, dim: 64, depth: 4, heads: 4, mlpRatio: 2, numClasses: 10 },
  /** kdp-spec §8.2 mini-CDL student: 28×28 grey, patch 7, D=32, depth 4, 2 heads, MLP ratio 2. */
  vitCdlStudent: { imageSize: 28, patchSize: 7, inputChannels: 1, dim: 32, depth: 4, heads: 2, mlpRatio: 2, numClasses: 10 },
} as const satisfies Record<string, VitConfig>;
