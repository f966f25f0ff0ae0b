import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError, type KdLossInput, type Rng, type Taps } from '@promptkd/core';
import { expectRank } from './internal/checks.js';
import {
  type LayerNormParams,
  type LinearParams,
  createLayerNormVariables,
  createLinearVariables,
  expectDimension,
  resolveRng,
} from './internal/params.js';
import { layerNorm, linear, stopGradient } from './internal/tensor-ops.js';

export type { LayerNormParams } from './internal/params.js';

/** LayerNorm ε of the ABF modules (PyTorch's default). */
export const REVIEW_KD_LAYER_NORM_EPSILON = 1e-5;

/**
 * Parameters of one attention-based fusion (ABF) module, adapted to transformer tokens `[N, T, D]`.
 * All Linear weights are laid out `[in, out]`.
 */
export interface AbfParams {
  /** `proj1`: Linear(D_S → D_S) applied to the student block's tokens. */
  readonly proj1: LinearParams;
  /** `norm1`: LayerNorm(D_S) after `proj1`. */
  readonly norm1: LayerNormParams;
  /**
   * `gate`: Linear(2·D_S → 2) on the concatenation `[x ; fused_{l+1}]`, followed by a sigmoid, giving per-token
   * weights for the two inputs. Absent on the top level (the last student block), which has nothing to fuse.
   */
  readonly gate?: LinearParams;
  /** `proj2`: Linear(D_S → D_T), the projection to the teacher width. */
  readonly proj2: LinearParams;
}

/** Parameters of all ABF modules; `abfs[l]` belongs to student block l (the last one has no gate). */
export interface ReviewKdParams {
  readonly abfs: readonly AbfParams[];
}

/** Trainable ReviewKD modules with stable variable names. */
export interface ReviewKdModules extends ReviewKdParams {
  /** `<name>.abfs.<l>.{proj1,norm1,gate,proj2}.{weight,bias}`. */
  namedVariables(): ReadonlyMap<string, tf.Variable>;
  trainableVariables(): tf.Variable[];
  dispose(): void;
}

/** Options of {@link createReviewKdModules}. */
export interface ReviewKdModulesOptions {
  /** `studentDim` — D_S. */
  readonly studentDim: number;
  /** `teacherDim` — D_T. */
  readonly teacherDim: number;
  /** `levels` — L, the number of student blocks fused (KDP: 12 = all ViT blocks). */
  readonly levels: number;
  /** Variable name prefix. Default `'reviewKd'`. */
  readonly name?: string;
  /** Seeded generator for the initialisation, or `seed` (default 0). */
  readonly rng?: Rng;
  readonly seed?: number;
}

/**
 * Creates L ABF modules (Linear defaults U(−1/√in, 1/√in); LayerNorm γ = 1, β = 0). Module l = L − 1 (top) has no
 * gate. Initialisation order: for l = 0 … L−1: proj1, gate, proj2. The caller owns the result (`dispose()`).
 */
export function createReviewKdModules(options: ReviewKdModulesOptions): ReviewKdModules {
  expectDimension(options.studentDim, 'studentDim');
  expectDimension(options.teacherDim, 'teacherDim');
  expectDimension(options.levels, 'levels');
  const rng = resolveRng(options);
  const name = options.name ?? 'reviewKd';
  const { studentDim: ds, teacherDim: dt, levels } = options;
  const named = new Map<string, tf.Variable>();
  const abfs: AbfParams[] = [];
  for (let l = 0; l < levels; l++) {
    const proj1 = createLinearVariables(rng, ds, ds);
    const gate = l < levels - 1 ? createLinearVariables(rng, 2 * ds, 2) : undefined;
    const proj2 = createLinearVariables(rng, ds, dt);
    const norm1 = createLayerNormVariables(ds);
    const parts: [string, { weight: tf.Variable; bias: tf.Variable } | undefined][] = [
      ['proj1', proj1],
      ['norm1', norm1],
      ['gate', gate],
      ['proj2', proj2],
    ];
    for (const [part, p] of parts) {
      if (!p) continue;
      named.set(`${name}.abfs.${l}.${part}.weight`, p.weight);
      named.set(`${name}.abfs.${l}.${part}.bias`, p.bias);
    }
    abfs.push({ proj1, norm1, proj2, ...(gate ? { gate } : {}) } as AbfParams);
  }
  return {
    abfs,
    namedVariables: () => named,
    trainableVariables: () => [...named.values()],
    dispose: () => named.forEach((v) => v.dispose()),
  };
}

function checkParams(params: ReviewKdParams, studentDim: number): void {
  const levels = params.abfs.length;
  if (levels === 0) throw new ConfigError('ReviewKD needs at least one ABF module.', { field: 'modules' });
  params.abfs.forEach((abf, l) => {
    const top = l === levels - 1;
    if (top === (abf.gate !== undefined)) {
      throw new ConfigError(
        `ABF module ${l} ${top ? 'is the top level and must not have' : 'must have'} a gate (only the last student block has nothing to fuse).`,
        { field: `abfs.${l}.gate` },
      );
    }
    if (abf.proj1.weight.shape[0] !== studentDim) {
      throw new ShapeError(
        `ABF module ${l} expects student width ${abf.proj1.weight.shape[0]}, got ${studentDim}.`,
        { level: l },
      );
    }
  });
}

/**
 * Top-down attention-based fusion of all student blocks (ReviewKD's "review" path, adapted to tokens):
 *
 * ```
 * for l = L−1 … 0:
 *   x_l = LN(F^S_l · W1_l + b1_l)
 *   if l < L−1:  [a, b] = sigmoid([x_l ; y_{l+1}] · Wg_l + bg_l)      (per token)
 *                x_l = a ⊙ x_l + b ⊙ y_{l+1}
 *   y_l = x_l                                   (residual handed to level l−1)
 *   out_l = x_l · W2_l + b2_l                   (projection to D_T)
 * ```
 *
 * @param studentFeatures — F^S_0 … F^S_{L−1}: the outputs of the L student blocks, each `[N, T, D_S]`.
 * @param params — the L ABF modules.
 * @returns out_0 … out_{L−1}, each `[N, T, D_T]`; the caller owns them.
 */
export function reviewKdFuse(studentFeatures: readonly tf.Tensor[], params: ReviewKdParams): tf.Tensor[] {
  const levels = params.abfs.length;
  if (studentFeatures.length !== levels) {
    throw new ShapeError(
      `ReviewKD has ${levels} ABF modules but got ${studentFeatures.length} student block features; pass one per module.`,
      { levels, features: studentFeatures.length },
    );
  }
  studentFeatures.forEach((f, l) => {
    expectRank(f, 3, `student block ${l} features`);
    const first = studentFeatures[0] as tf.Tensor;
    if (f.shape.some((d, i) => d !== first.shape[i])) {
      throw new ShapeError(`student block features must all have the same shape; block ${l} is [${f.shape.join(', ')}].`, {
        level: l,
      });
    }
  });
  checkParams(params, (studentFeatures[0] as tf.Tensor).shape[2] as number);
  return tf.tidy(() => {
    const outs: tf.Tensor[] = new Array<tf.Tensor>(levels);
    let residual: tf.Tensor | undefined;
    for (let l = levels - 1; l >= 0; l--) {
      const abf = params.abfs[l] as AbfParams;
      let x = layerNorm(
        linear(studentFeatures[l] as tf.Tensor, abf.proj1.weight, abf.proj1.bias),
        abf.norm1.weight,
        abf.norm1.bias,
        REVIEW_KD_LAYER_NORM_EPSILON,
      );
      if (abf.gate && residual) {
        const z = tf.sigmoid(linear(tf.concat([x, residual], 2), abf.gate.weight, abf.gate.bias));
        const [a, b] = tf.split(z, 2, 2) as [tf.Tensor, tf.Tensor];
        x = tf.add(tf.mul(x, a), tf.mul(residual, b));
      }
      residual = x;
      outs[l] = linear(x, abf.proj2.weight, abf.proj2.bias);
    }
    return outs;
  });
}

/**
 * ReviewKD adapted to transformer tokens (KDP's `ReviewKD` baseline, which adds it with weight 0.2 to the logit KD):
 *
 * ```
 * L = (1/L) Σ_l mean((out_l − F^T_{l'})²),   out = reviewKdFuse(F^S),  F^T = the last L teacher blocks (detached)
 * ```
 *
 * @param studentFeatures — F^S_0 … F^S_{L−1} (`[N, T, D_S]` each): all student blocks, in order.
 * @param teacherFeatures — teacher block outputs in order (`[N, T, D_T]` each), at least L; the last L are used, so
 *   a deeper teacher (ViT-B 12 → ViT-L 24 blocks) pairs its top blocks with the student's.
 * @param params — the ABF modules ({@link createReviewKdModules}).
 * @see Chen, Liu, Zhao, Jia. "Distilling Knowledge via Knowledge Review", CVPR 2021, arXiv:2104.09044.
 * @remarks Deviation from paper: tokens instead of feature maps, Linear+LayerNorm instead of conv+BN, plain MSE per
 *   level instead of the multi-scale HCL loss — the loose adaptation kdp-spec §4 describes.
 */
export function reviewKdLoss(
  studentFeatures: readonly tf.Tensor[],
  teacherFeatures: readonly tf.Tensor[],
  params: ReviewKdParams,
): tf.Scalar {
  const levels = params.abfs.length;
  if (teacherFeatures.length < levels) {
    throw new ShapeError(
      `ReviewKD needs at least ${levels} teacher block features (one per ABF module), got ${teacherFeatures.length}.`,
      { levels, teacher: teacherFeatures.length },
    );
  }
  const teacher = teacherFeatures.slice(teacherFeatures.length - levels);
  const outDim = (params.abfs[0] as AbfParams).proj2.weight.shape[1];
  teacher.forEach((t, l) => {
    expectRank(t, 3, `teacher block features ${l}`);
    const s = studentFeatures[l];
    if (s && (t.shape[0] !== s.shape[0] || t.shape[1] !== s.shape[1] || t.shape[2] !== outDim)) {
      throw new ShapeError(
        `teacher block features [${t.shape.join(', ')}] do not match the fused student output [${s.shape[0]}, ${s.shape[1]}, ${outDim}] at level ${l}.`,
        { level: l },
      );
    }
  });
  return tf.tidy(() => {
    const outs = reviewKdFuse(studentFeatures, params);
    const perLevel = outs.map((o, l) => tf.mean(tf.squaredDifference(o, stopGradient(teacher[l] as tf.Tensor))));
    return tf.div(tf.addN(perLevel), levels) as tf.Scalar;
  });
}

/** Config of the `reviewKd` registry entry. */
export interface ReviewKdConfig {
  /** The ABF modules ({@link createReviewKdModules}), trained with the student. */
  readonly modules: ReviewKdParams;
  /** Student tap names, one per ABF module in block order. Default `blocks.0 … blocks.{L−1}`. */
  readonly studentTaps?: readonly string[];
  /** Teacher tap names in block order (the last L are used). Default: every `blocks.<i>` tap, sorted by i. */
  readonly teacherTaps?: readonly string[];
}

function blockTaps(taps: Taps): string[] {
  return Object.keys(taps)
    .filter((k) => /^blocks\.\d+$/.test(k))
    .sort((a, b) => Number(a.slice(7)) - Number(b.slice(7)));
}

function pick(taps: Taps, names: readonly string[], side: string): tf.Tensor[] {
  return names.map((n) => {
    const t = taps[n];
    if (!t) {
      throw new ConfigError(
        `ReviewKD needs the ${side} tap '${n}'; available: ${Object.keys(taps).sort().join(', ') || '(none)'}.`,
        { field: `${side}.${n}` },
      );
    }
    return t;
  });
}

/** Registry adapter: student taps `blocks.0 … blocks.{L−1}`, teacher taps `blocks.*` (names configurable). */
export function reviewKdKdLoss(input: KdLossInput, config: ReviewKdConfig): tf.Scalar {
  const levels = config.modules.abfs.length;
  const studentNames = config.studentTaps ?? Array.from({ length: levels }, (_, l) => `blocks.${l}`);
  const teacherNames = config.teacherTaps ?? blockTaps(input.teacher);
  return reviewKdLoss(pick(input.student, studentNames, 'student'), pick(input.teacher, teacherNames, 'teacher'), config.modules);
}
