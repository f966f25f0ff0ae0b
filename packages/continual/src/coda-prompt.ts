import * as tf from '@tensorflow/tfjs';
import { stopGradient } from './stop-gradient.js';
import * as z from 'zod';
import { ConfigError, Rng, codaAttention, type TaskContext } from '@promptkd/core';
import { blockIndices, evenLength, positiveInt } from './method-config.js';
import { splitPrefix } from './prefix-tuning.js';
import { uniqueName } from './prompt-init.js';
import type { ClPromptMethod, PrefixKV, PromptSelection, SelectOptions } from './types.js';

/** Schema of the CODA-Prompt hyper-parameters (validated when the registry creates the method). */
export const codaPromptConfigSchema = z
  .object({
    /** M — total number of components over all tasks (100); M/N belong to each task. */
    poolSize: positiveInt,
    /** L — component length, split L/2 key + L/2 value (8). */
    length: evenLength,
    /** μ — orthogonality penalty weight (0 = off, the reported setting). */
    orthoMu: z.number().nonnegative(),
    /** Prompted blocks ({0,1,2,3,4}). */
    layers: blockIndices,
    /** N — number of tasks in the stream (components per task = M / N). */
    numTasks: positiveInt,
  })
  .strict();
/** Hyper-parameters of CODA-Prompt (reference `--prompt_param 100 8 0.0`). */
export type CodaPromptConfig = z.infer<typeof codaPromptConfigSchema>;

/** Paper/reference values for a 10-task stream. */
export const CODA_PROMPT_DEFAULTS: CodaPromptConfig = { poolSize: 100, length: 8, orthoMu: 0, layers: [0, 1, 2, 3, 4], numTasks: 10 };

/**
 * Gram–Schmidt re-initialisation of rows [s, f) of a row matrix `rows × dim` (flattened, host memory):
 * each new row is drawn from N(0,1), made orthogonal to all earlier rows (old and new) and normalised
 * to unit norm. Rows < s are kept, rows ≥ f are set to zero. Mirrors the reference's per-task re-init.
 */
export function gramSchmidtRows(values: Float32Array, rows: number, dim: number, s: number, f: number, rng: Rng): Float32Array {
  if (f > dim) {
    throw new ConfigError(
      `Cannot make ${f} rows of width ${dim} orthogonal (CODA components × tasks must not exceed the flattened width).`,
      { field: 'poolSize', rows: f, dim },
    );
  }
  const out = new Float32Array(rows * dim);
  out.set(values.subarray(0, s * dim));
  const u: Float64Array[] = [];
  for (let j = 0; j < s; j++) u.push(Float64Array.from(values.subarray(j * dim, (j + 1) * dim)));
  for (let k = s; k < f; k++) {
    for (;;) {
      const v = new Float64Array(dim);
      for (let i = 0; i < dim; i++) v[i] = rng.normal();
      const w = Float64Array.from(v);
      let degenerate = false;
      for (const uj of u) {
        let uu = 0;
        let vu = 0;
        for (let i = 0; i < dim; i++) {
          uu += (uj[i] as number) * (uj[i] as number);
          vu += (v[i] as number) * (uj[i] as number);
        }
        if (uu < 1e-8) {
          degenerate = true;
          break;
        }
        const c = vu / uu;
        for (let i = 0; i < dim; i++) w[i] = (w[i] as number) - c * (uj[i] as number);
      }
      if (degenerate) continue;
      u.push(w);
      break;
    }
  }
  for (let k = s; k < f; k++) {
    const w = u[k] as Float64Array;
    let norm = 0;
    for (let i = 0; i < dim; i++) norm += (w[i] as number) * (w[i] as number);
    norm = Math.sqrt(norm);
    for (let i = 0; i < dim; i++) out[k * dim + i] = (w[i] as number) / norm;
  }
  return out;
}

/**
 * CODA-Prompt (Smith et al., CVPR 2023; spec §3.3): per prompted block, components P ∈ R^{M×L×D},
 * keys K ∈ R^{M×D_q} and attention vectors A ∈ R^{M×D_q}. The prompt for a query q is
 * Σ_k α_k P_k with α_k = cos(q ⊙ A_k, K_k) (no softmax). Task t owns rows [t·M/N, (t+1)·M/N); they are
 * Gram–Schmidt re-initialised at the start of task t; rows of past tasks are detached during training
 * (zero gradient); rows of future tasks are zero and unused.
 */
export class CodaPrompt implements ClPromptMethod {
  readonly key = 'coda';
  readonly layers: readonly number[];
  /** Components per task (M/N). */
  readonly perTask: number;
  private readonly p = new Map<number, tf.Variable>();
  private readonly k = new Map<number, tf.Variable>();
  private readonly a = new Map<number, tf.Variable>();
  private taskCount = 0;
  /** Task t's re-init draws from Rng(baseSeed, t): independent of history, so a resumed run re-draws the same rows. */
  private readonly baseSeed: number;

  constructor(
    readonly embedDim: number,
    readonly keyDim: number,
    readonly config: CodaPromptConfig,
    rng: Rng,
  ) {
    this.baseSeed = rng.seed();
    if (config.length % 2 !== 0) throw new ConfigError(`CODA-Prompt length must be even, got ${config.length}.`, { field: 'length' });
    this.perTask = Math.floor(config.poolSize / config.numTasks);
    if (this.perTask < 1) {
      throw new ConfigError(`CODA-Prompt needs at least one component per task (poolSize ${config.poolSize} < numTasks ${config.numTasks}).`, {
        field: 'poolSize',
      });
    }
    this.layers = [...config.layers];
    const m = config.poolSize;
    for (const l of this.layers) {
      tf.tidy(() => {
        this.p.set(l, tf.variable(tf.zeros([m, config.length, embedDim]), true, uniqueName(`coda.e_p_${l}`)));
        this.k.set(l, tf.variable(tf.zeros([m, keyDim]), true, uniqueName(`coda.e_k_${l}`)));
        this.a.set(l, tf.variable(tf.zeros([m, keyDim]), true, uniqueName(`coda.e_a_${l}`)));
      });
    }
    this.reinitTaskRows(0);
  }

  get task(): number {
    return this.taskCount;
  }

  /** Rows [s, f) of the current task. */
  taskRows(task = this.taskCount): { s: number; f: number } {
    return { s: task * this.perTask, f: (task + 1) * this.perTask };
  }

  private reinitTaskRows(task: number): void {
    const { s, f } = this.taskRows(task);
    if (f > this.config.poolSize) {
      throw new ConfigError(`CODA-Prompt pool (${this.config.poolSize}) has no components for task ${task}; raise poolSize or numTasks.`, {
        field: 'numTasks',
      });
    }
    const rng = Rng.fromSeed((this.baseSeed + task * 7919) % 0x7fffffff);
    for (const l of this.layers) {
      for (const v of [this.k.get(l), this.a.get(l), this.p.get(l)] as tf.Variable[]) {
        const rows = v.shape[0] as number;
        const dim = v.size / rows;
        const next = gramSchmidtRows(v.dataSync() as Float32Array, rows, dim, s, f, rng);
        const t = tf.tensor(next, v.shape, 'float32');
        v.assign(t);
        t.dispose();
      }
    }
  }

  select(query: tf.Tensor2D, options: SelectOptions): PromptSelection {
    const n = query.shape[0];
    const { s, f } = this.taskRows();
    const { length: len, orthoMu } = this.config;
    const d = this.embedDim;
    const prefixes: Array<PrefixKV | undefined> = [];
    let loss: tf.Scalar | undefined;
    const q = stopGradient(query);
    for (const l of this.layers) {
      const K = this.k.get(l) as tf.Variable as tf.Tensor2D;
      const A = this.a.get(l) as tf.Variable as tf.Tensor2D;
      const P = tf.reshape(this.p.get(l) as tf.Variable, [this.config.poolSize, len * d]) as tf.Tensor2D;
      const rowsOf = (x: tf.Tensor2D): tf.Tensor2D => {
        const w = x.shape[1];
        if (options.training && s > 0) {
          return tf.concat([stopGradient(tf.slice(x, [0, 0], [s, w])), tf.slice(x, [s, 0], [f - s, w])], 0);
        }
        return tf.slice(x, [0, 0], [f, w]);
      };
      const k = rowsOf(K);
      const a = rowsOf(A);
      const p = rowsOf(P);
      // α_{n,k} = <q_n ⊙ A_k, K̂_k> / max(‖q_n ⊙ A_k‖, eps), prompt_n = Σ_k α_{n,k} P_k (one fused kernel where the backend has it)
      const prompt = tf.reshape(codaAttention(q, k, a, p), [n, len, d]) as tf.Tensor3D;
      prefixes[l] = splitPrefix(prompt);
      if (options.training && orthoMu > 0) {
        const term = tf.mul(tf.addN([orthoPenalty(k), orthoPenalty(a), orthoPenalty(p)]), orthoMu) as tf.Scalar;
        loss = loss ? (tf.add(loss, term) as tf.Scalar) : term;
      }
    }
    return { prefixes, ...(loss ? { keyLoss: loss } : {}) };
  }

  /** Starts task `ctx.task`: re-initialises its components (Gram–Schmidt against all earlier rows). */
  beforeTask(ctx: TaskContext): void {
    if (ctx.task === this.taskCount) return;
    if (ctx.task !== this.taskCount + 1) {
      throw new ConfigError(`CODA-Prompt tasks must come in order: at task ${this.taskCount}, got beforeTask(${ctx.task}).`, {
        field: 'task',
      });
    }
    this.taskCount = ctx.task;
    this.reinitTaskRows(ctx.task);
  }

  setTask(task: number): void {
    if (!Number.isInteger(task) || task < 0 || (task + 1) * this.perTask > this.config.poolSize) {
      throw new ConfigError(`CODA-Prompt has no components for task ${task}.`, { field: 'task' });
    }
    this.taskCount = task;
  }

  namedVariables(): ReadonlyMap<string, tf.Variable> {
    const m = new Map<string, tf.Variable>();
    for (const l of this.layers) {
      m.set(`e_p_${l}`, this.p.get(l) as tf.Variable);
      m.set(`e_k_${l}`, this.k.get(l) as tf.Variable);
      m.set(`e_a_${l}`, this.a.get(l) as tf.Variable);
    }
    return m;
  }

  trainableVariables(): tf.Variable[] {
    return [...this.namedVariables().values()];
  }

  dispose(): void {
    for (const v of this.namedVariables().values()) v.dispose();
    this.p.clear();
    this.k.clear();
    this.a.clear();
  }
}

/** mean((T·Tᵀ − I)²) — CODA's orthogonality penalty on a row matrix. */
export function orthoPenalty(t: tf.Tensor2D): tf.Scalar {
  const r = t.shape[0];
  return tf.mean(tf.square(tf.sub(tf.matMul(t, tf.transpose(t)), tf.eye(r))));
}
