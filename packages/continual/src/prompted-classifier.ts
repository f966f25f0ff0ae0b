import * as tf from '@tensorflow/tfjs';
import type { LossResult, Rng, TaskContext } from '@promptkd/core';
import { LinearHead } from './linear-head.js';
import { maskedCrossEntropy } from './masked-cross-entropy.js';
import { blockPrefixes } from './prefix-tuning.js';
import type { Batch, ClPromptMethod, Learner, PrefixKV, PromptableViT } from './types.js';

/** Options of {@link PromptedClassifier.forward}. */
export interface PromptedForwardOptions {
  /** Training mode of the prompt method (task-id selection, detached past components, key loss). */
  readonly training: boolean;
  /** Extra tokens appended after the patch tokens (KDP's KD token), `[N, E, D]`. */
  readonly extraTokens?: tf.Tensor3D;
  /** Extra prefixes APPENDED per block (KDP's KD prompts). */
  readonly appendPrefixes?: ReadonlyArray<PrefixKV | undefined>;
  /** Return each block's output (feature distillation). */
  readonly blockOutputs?: boolean;
  /** No gradient will be taken through this forward (a frozen teacher, evaluation): see `PromptableForwardOptions`. */
  readonly noGrad?: boolean;
}

/** Outputs of {@link PromptedClassifier.forward}. */
export interface PromptedForward {
  /** Final-norm token sequence `[N, T, D]`. */
  readonly tokens: tf.Tensor3D;
  /** h_CLS `[N, D]`. */
  readonly cls: tf.Tensor2D;
  /** g(h_CLS) over all classes `[N, C]`. */
  readonly logits: tf.Tensor2D;
  /** L_pool of the prompt method (undefined = 0). */
  readonly keyLoss?: tf.Scalar;
  readonly blocks?: readonly tf.Tensor3D[];
}

/**
 * A prompt-based CL model: frozen ViT + CL prompt method + linear head g on [CLS] (spec §3). Used as the
 * teacher, as the student alone, and inside the KD students. As a {@link Learner} its objective is
 * masked CE + key loss (λ = 1) and it predicts argmax g(h_CLS)[:, :hi].
 */
export class PromptedClassifier implements Learner {
  readonly head: LinearHead;

  /**
   * @param backbone frozen ViT (width D).
   * @param method CL prompt method (prompt width D, key width D_q).
   * @param numClasses C — classes over the whole stream.
   */
  constructor(
    readonly backbone: PromptableViT,
    readonly method: ClPromptMethod,
    readonly numClasses: number,
    rng: Rng,
    headName = 'last',
  ) {
    this.head = new LinearHead(backbone.embedDim, numClasses, rng, headName);
  }

  forward(x: tf.Tensor4D, query: tf.Tensor2D, options: PromptedForwardOptions): PromptedForward {
    const sel = this.method.select(query, { training: options.training });
    const prefixes = blockPrefixes(this.backbone.depth, sel.prefixes, options.appendPrefixes ?? []);
    const out = this.backbone.forward(x, {
      prefixes,
      ...(options.extraTokens ? { extraTokens: options.extraTokens } : {}),
      ...(options.blockOutputs ? { blockOutputs: true } : {}),
      ...(options.noGrad ? { noGrad: true } : {}),
    });
    const [n, , d] = out.tokens.shape;
    const cls = tf.reshape(tf.slice(out.tokens, [0, 0, 0], [n, 1, d]), [n, d]) as tf.Tensor2D;
    return {
      tokens: out.tokens,
      cls,
      logits: this.head.apply(cls),
      ...(sel.keyLoss ? { keyLoss: sel.keyLoss } : {}),
      ...(out.blocks ? { blocks: out.blocks } : {}),
    };
  }

  loss(batch: Batch, ctx: TaskContext): LossResult {
    const out = this.forward(batch.x, batch.query, { training: true });
    const ce = maskedCrossEntropy(out.logits, batch.y, ctx.lo, ctx.hi);
    const keyLoss = out.keyLoss ?? tf.scalar(0);
    return { total: tf.add(ce, keyLoss), terms: { ce, keyLoss } };
  }

  predict(x: tf.Tensor4D, query: tf.Tensor2D, hi: number): tf.Tensor2D {
    return tf.tidy(() => {
      const { logits } = this.forward(x, query, { training: false, noGrad: true });
      return tf.slice(logits, [0, 0], [logits.shape[0], hi]);
    });
  }

  beforeTask(ctx: TaskContext): void {
    this.method.beforeTask(ctx);
  }

  afterTask(ctx: TaskContext): void {
    this.method.afterTask?.(ctx);
  }

  trainableVariables(): tf.Variable[] {
    return [...this.method.trainableVariables(), ...this.head.trainableVariables()];
  }

  namedVariables(): ReadonlyMap<string, tf.Variable> {
    const m = new Map<string, tf.Variable>();
    for (const [k, v] of this.method.namedVariables()) m.set(`prompt.${k}`, v);
    for (const [k, v] of this.head.namedVariables()) m.set(k, v);
    return m;
  }

  /** Disposes the prompt method and head (not the shared backbone). */
  dispose(): void {
    this.method.dispose();
    this.head.dispose();
  }
}
