import * as tf from '@tensorflow/tfjs';
import { ConfigError, type Rng } from '@promptkd/core';
import { LinearHead, splitPrefix, tileToBatch, uniformVariable, type PrefixKV } from '@promptkd/continual';

/** Options of {@link KdPrompts}. */
export interface KdPromptsOptions {
  /** D_S — student width. */
  readonly dim: number;
  /** Student depth (number of blocks). */
  readonly depth: number;
  /** n_kd — the KD token counts as layer 0; KD prefixes go to layers 1..n_kd−1 (reference 12). */
  readonly kdLayers: number;
  /** L_kd — KD prefix length (L_kd/2 keys + L_kd/2 values; reference 6). */
  readonly length: number;
  /** C — KD head width. */
  readonly numClasses: number;
  readonly rng: Rng;
}

/**
 * KDP's student-only parts (spec §5.1): the KD token τ_kd ∈ R^{1×D_S} (appended after the patch tokens,
 * no positional embedding), KD prefix prompts P^kd_ℓ ∈ R^{L_kd×D_S} for ℓ = 1..n_kd−1 (APPENDED to the
 * keys/values), and the KD head k = Linear(D_S, C) on the KD token's final-norm output. Init U[0,1) for
 * token and prefixes, PyTorch default for the head. Shared by all tasks; never reset or frozen.
 */
export class KdPrompts {
  readonly token: tf.Variable;
  readonly prefixes = new Map<number, tf.Variable>();
  readonly head: LinearHead;

  constructor(readonly options: KdPromptsOptions) {
    const { dim, depth, kdLayers, length, numClasses, rng } = options;
    if (!Number.isInteger(kdLayers) || kdLayers < 1 || kdLayers > depth) {
      throw new ConfigError(`kdLayers (n_kd) must be in [1, depth=${depth}], got ${kdLayers}.`, { field: 'kdLayers' });
    }
    if (kdLayers > 1 && (length < 2 || length % 2 !== 0)) {
      throw new ConfigError(`The KD prefix length must be a positive even number, got ${length}.`, { field: 'kdPromptLength' });
    }
    this.token = uniformVariable([1, dim], rng, 'kd_token');
    for (let l = 1; l < kdLayers; l++) this.prefixes.set(l, uniformVariable([length, dim], rng, `kd_prompt_${l}`));
    this.head = new LinearHead(dim, numClasses, rng, 'kd_last');
  }

  /** `[N, 1, D]` KD token and the appended KD prefixes per block (length = depth). */
  extras(n: number): { extraTokens: tf.Tensor3D; appendPrefixes: Array<PrefixKV | undefined> } {
    const appendPrefixes: Array<PrefixKV | undefined> = [];
    for (const [l, p] of this.prefixes) appendPrefixes[l] = splitPrefix(tileToBatch(p as tf.Tensor as tf.Tensor2D, n));
    return { extraTokens: tileToBatch(this.token as tf.Tensor as tf.Tensor2D, n), appendPrefixes };
  }

  /** k(h_KD): KD-head logits from the final-norm sequence (KD token = last position). `[N, C]`. */
  kdLogits(tokens: tf.Tensor3D): tf.Tensor2D {
    const [n, t, d] = tokens.shape;
    return this.head.apply(tf.reshape(tf.slice(tokens, [0, t - 1, 0], [n, 1, d]), [n, d]) as tf.Tensor2D);
  }

  namedVariables(): ReadonlyMap<string, tf.Variable> {
    const m = new Map<string, tf.Variable>([['kd_token', this.token]]);
    for (const [l, p] of this.prefixes) m.set(`kd_prompt_${l}`, p);
    for (const [k, v] of this.head.namedVariables()) m.set(k, v);
    return m;
  }

  trainableVariables(): tf.Variable[] {
    return [...this.namedVariables().values()];
  }

  dispose(): void {
    this.token.dispose();
    for (const p of this.prefixes.values()) p.dispose();
    this.head.dispose();
  }
}
