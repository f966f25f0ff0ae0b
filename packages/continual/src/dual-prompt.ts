import * as tf from '@tensorflow/tfjs';
import * as z from 'zod';
import { ConfigError, type Rng, type TaskContext } from '@promptkd/core';
import { blockIndices, evenLength, positiveInt } from './method-config.js';
import { concatPrefixes, splitPrefix, tileToBatch } from './prefix-tuning.js';
import { uniformVariable } from './prompt-init.js';
import { pickFromPool } from './prompt-pool.js';
import type { ClPromptMethod, PrefixKV, PromptSelection, SelectOptions } from './types.js';

/** Schema of the DualPrompt hyper-parameters (validated when the registry creates the method). */
export const dualPromptConfigSchema = z
  .object({
    /** E-prompt pool size (= number of tasks, 10). */
    poolSize: positiveInt,
    /** E-prompt length L_e, split L_e/2 key + L_e/2 value (20). */
    eLength: evenLength,
    /** G-prompt length L_g, split L_g/2 + L_g/2 (6). */
    gLength: evenLength,
    /** Blocks with G-prompts ({0,1}). */
    gLayers: blockIndices,
    /** Blocks with E-prompts ({2,3,4}). */
    eLayers: blockIndices,
  })
  .strict();
/** Hyper-parameters of DualPrompt (reference `--prompt_param 10 20 6`). */
export type DualPromptConfig = z.infer<typeof dualPromptConfigSchema>;

/** Paper/reference values for a 10-task stream. */
export const DUAL_PROMPT_DEFAULTS: DualPromptConfig = { poolSize: 10, eLength: 20, gLength: 6, gLayers: [0, 1], eLayers: [2, 3, 4] };

/**
 * DualPrompt (Wang et al., ECCV 2022) as in the CODA-Prompt/CDL code (spec §3.4): shared G-prompts
 * (one per G-layer, trained on all tasks) and a pool of task-specific E-prompts with keys.
 * Training: the ground-truth task id t picks E-prompt t; key loss (1 − cos(q, K_t)) averaged over the
 * batch and summed over E-layers. Test: top-1 key by cosine similarity. E then G when both in a layer.
 */
export class DualPrompt implements ClPromptMethod {
  readonly key = 'dualprompt';
  readonly layers: readonly number[];
  private readonly gPrompts = new Map<number, tf.Variable>();
  private readonly ePrompts = new Map<number, tf.Variable>();
  private readonly eKeys = new Map<number, tf.Variable>();
  private current = 0;

  /**
   * @param embedDim D — prompt width.
   * @param keyDim D_q — query width.
   */
  constructor(
    readonly embedDim: number,
    readonly keyDim: number,
    readonly config: DualPromptConfig,
    rng: Rng,
  ) {
    if (config.eLength % 2 !== 0 || config.gLength % 2 !== 0) {
      throw new ConfigError(`DualPrompt lengths must be even (got E ${config.eLength}, G ${config.gLength}).`, { field: 'length' });
    }
    for (const g of config.gLayers) this.gPrompts.set(g, uniformVariable([config.gLength, embedDim], rng, `dual.g_p_${g}`));
    for (const e of config.eLayers) {
      this.ePrompts.set(e, uniformVariable([config.poolSize, config.eLength, embedDim], rng, `dual.e_p_${e}`));
      this.eKeys.set(e, uniformVariable([config.poolSize, keyDim], rng, `dual.e_k_${e}`));
    }
    this.layers = [...new Set([...config.gLayers, ...config.eLayers])].sort((a, b) => a - b);
  }

  get task(): number {
    return this.current;
  }

  select(query: tf.Tensor2D, options: SelectOptions): PromptSelection {
    const n = query.shape[0];
    if (options.training && this.current >= this.config.poolSize) {
      throw new ConfigError(
        `DualPrompt has ${this.config.poolSize} E-prompts but task ${this.current} is training; set poolSize to the number of tasks.`,
        { field: 'poolSize' },
      );
    }
    const prefixes: Array<PrefixKV | undefined> = [];
    let keyLoss: tf.Scalar | undefined;
    let selected: number[][] | undefined;
    for (const l of this.layers) {
      let e: PrefixKV | undefined;
      const ep = this.ePrompts.get(l);
      const ek = this.eKeys.get(l);
      if (ep && ek) {
        const pick = pickFromPool(
          query,
          ek as tf.Tensor as tf.Tensor2D,
          ep as tf.Tensor as tf.Tensor3D,
          options.training ? { index: this.current } : { topK: 1 },
        );
        e = pick.prefix;
        if (options.training) keyLoss = keyLoss ? (tf.add(keyLoss, pick.keyLoss) as tf.Scalar) : pick.keyLoss;
        if (options.inspect && selected === undefined) selected = pick.indices.arraySync();
      }
      const gp = this.gPrompts.get(l);
      const g = gp ? splitPrefix(tileToBatch(gp as tf.Tensor as tf.Tensor2D, n)) : undefined;
      prefixes[l] = concatPrefixes(e, g);
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
    for (const [l, v] of this.gPrompts) m.set(`g_p_${l}`, v);
    for (const [l, v] of this.ePrompts) m.set(`e_p_${l}`, v);
    for (const [l, v] of this.eKeys) m.set(`e_k_${l}`, v);
    return m;
  }

  trainableVariables(): tf.Variable[] {
    return [...this.namedVariables().values()];
  }

  dispose(): void {
    for (const v of this.namedVariables().values()) v.dispose();
    this.gPrompts.clear();
    this.ePrompts.clear();
    this.eKeys.clear();
  }
}
