import * as tf from '@tensorflow/tfjs';
import * as z from 'zod';
import { ConfigError, type Rng, type TaskContext } from '@promptkd/core';
import { blockIndices, evenLength, positiveInt } from './method-config.js';
import { uniformVariable } from './prompt-init.js';
import { pickFromPool } from './prompt-pool.js';
import type { ClPromptMethod, PrefixKV, PromptSelection, SelectOptions } from './types.js';

/** Schema of the L2P++ hyper-parameters (validated when the registry creates the method). */
export const l2pConfigSchema = z
  .object({
    /** M — pool size (30). */
    poolSize: positiveInt,
    /** L_p — prompt length, split L/2 key + L/2 value prefix tokens (20). */
    length: evenLength,
    /** k — prompts picked per input (5). */
    topK: positiveInt,
    /** Blocks that get prefixes ([0]; the reference's "deep" variant uses [0..4]). */
    layers: blockIndices,
  })
  .strict();
/** Hyper-parameters of L2P++ (reference `--prompt_param 30 20 -1`). */
export type L2PConfig = z.infer<typeof l2pConfigSchema>;

/** Paper/reference values. */
export const L2P_DEFAULTS: L2PConfig = { poolSize: 30, length: 20, topK: 5, layers: [0] };

/**
 * L2P as the reference code's **L2P++** (Wang et al., CVPR 2022; prefix-tuning variant of CODA-Prompt's
 * code base, spec §3.5): a pool of M prompts with keys; every input (train and test) picks the top-k keys
 * by cos(q, K_m), the k prompts are concatenated into `k·L/2` prefix keys and values; key loss
 * Σ_{top-k}(1 − cos(q, K)) averaged over the batch. No task ids, no freezing: the whole pool trains.
 */
export class L2P implements ClPromptMethod {
  readonly key = 'l2p';
  readonly layers: readonly number[];
  private readonly prompts = new Map<number, tf.Variable>();
  private readonly keys = new Map<number, tf.Variable>();
  private current = 0;

  /**
   * @param embedDim D — width of the prompted ViT.
   * @param keyDim D_q — width of the shared query ViT.
   * @param rng seeded generator for the U[0,1) initialisation.
   */
  constructor(
    readonly embedDim: number,
    readonly keyDim: number,
    readonly config: L2PConfig,
    rng: Rng,
  ) {
    if (config.length % 2 !== 0) throw new ConfigError(`L2P prompt length must be even, got ${config.length}.`, { field: 'length' });
    if (config.topK < 1 || config.topK > config.poolSize) {
      throw new ConfigError(`L2P top-k must be in [1, poolSize=${config.poolSize}], got ${config.topK}.`, { field: 'topK' });
    }
    this.layers = [...config.layers];
    for (const l of this.layers) {
      this.prompts.set(l, uniformVariable([config.poolSize, config.length, embedDim], rng, `l2p.e_p_${l}`));
      this.keys.set(l, uniformVariable([config.poolSize, keyDim], rng, `l2p.e_k_${l}`));
    }
  }

  get task(): number {
    return this.current;
  }

  select(query: tf.Tensor2D, options: SelectOptions): PromptSelection {
    const prefixes: Array<PrefixKV | undefined> = [];
    let keyLoss: tf.Scalar | undefined;
    let selected: number[][] | undefined;
    for (const l of this.layers) {
      const pick = pickFromPool(query, this.keys.get(l) as tf.Variable as tf.Tensor2D, this.prompts.get(l) as tf.Variable as tf.Tensor3D, {
        topK: this.config.topK,
      });
      prefixes[l] = pick.prefix;
      if (options.training) keyLoss = keyLoss ? (tf.add(keyLoss, pick.keyLoss) as tf.Scalar) : pick.keyLoss;
      if (options.inspect && selected === undefined) selected = pick.indices.arraySync();
    }
    return { prefixes, ...(keyLoss ? { keyLoss } : {}), ...(selected ? { selected } : {}) };
  }

  beforeTask(ctx: TaskContext): void {
    this.current = ctx.task;
  }

  setTask(task: number): void {
    this.current = task;
  }

  namedVariables(): ReadonlyMap<string, tf.Variable> {
    const m = new Map<string, tf.Variable>();
    for (const l of this.layers) {
      m.set(`e_p_${l}`, this.prompts.get(l) as tf.Variable);
      m.set(`e_k_${l}`, this.keys.get(l) as tf.Variable);
    }
    return m;
  }

  trainableVariables(): tf.Variable[] {
    return [...this.namedVariables().values()];
  }

  dispose(): void {
    for (const v of this.namedVariables().values()) v.dispose();
    this.prompts.clear();
    this.keys.clear();
  }
}
