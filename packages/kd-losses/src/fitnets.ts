import * as tf from '@tensorflow/tfjs';
import { ShapeError, type KdLossInput, type Rng } from '@promptkd/core';
import { expectMinRank, expectSameBatch } from './internal/checks.js';
import { type LinearParams, createLinearVariables, expectDimension, resolveRng } from './internal/params.js';
import { linear, stopGradient } from './internal/tensor-ops.js';
import { requireTap } from './internal/taps.js';

export type { LinearParams } from './internal/params.js';

/** A trainable FitNets regressor W_p: Linear(D_S → D_T). */
export interface FitNetsRegressor extends LinearParams {
  readonly weight: tf.Variable<tf.Rank.R2>;
  readonly bias: tf.Variable<tf.Rank.R1>;
  /** Variables by stable name: `<name>.weight` (`[D_S, D_T]`, transpose of PyTorch) and `<name>.bias` (`[D_T]`). */
  namedVariables(): ReadonlyMap<string, tf.Variable>;
  /** Both variables, for an optimiser. */
  trainableVariables(): tf.Variable[];
  dispose(): void;
}

/** Options of {@link createFitNetsRegressor}. */
export interface FitNetsRegressorOptions {
  /** `studentDim` — D_S, input width. */
  readonly studentDim: number;
  /** `teacherDim` — D_T, output width. */
  readonly teacherDim: number;
  /** Name prefix of the variables. Default `'fitnets.regressor'`. */
  readonly name?: string;
  /** Seeded generator for the initialisation, or `seed` (default 0). */
  readonly rng?: Rng;
  readonly seed?: number;
}

/**
 * Creates the FitNets regressor W_p = Linear(D_S → D_T) with PyTorch's default initialisation
 * (weight, bias ~ U(−1/√D_S, 1/√D_S)). The caller owns it (`dispose()`).
 *
 * @example
 * const regressor = createFitNetsRegressor({ studentDim: 192, teacherDim: 384, seed: 1 });
 * const loss = fitNetsLoss(studentTokens, teacherTokens, regressor);
 */
export function createFitNetsRegressor(options: FitNetsRegressorOptions): FitNetsRegressor {
  expectDimension(options.studentDim, 'studentDim');
  expectDimension(options.teacherDim, 'teacherDim');
  const name = options.name ?? 'fitnets.regressor';
  const { weight, bias } = createLinearVariables(resolveRng(options), options.studentDim, options.teacherDim);
  return {
    weight,
    bias,
    namedVariables: () => new Map<string, tf.Variable>([[`${name}.weight`, weight], [`${name}.bias`, bias]]),
    trainableVariables: () => [weight, bias],
    dispose: () => {
      weight.dispose();
      bias.dispose();
    },
  };
}

/**
 * FitNets hint loss with a trainable regressor, as in KDP's `FitNets` baseline (which adds it with weight 0.1 to the
 * logit KD):
 *
 * ```
 * L = mean((F^S · W_p + b − F^T)²)          (mean over all elements; F^T detached)
 * ```
 *
 * @param studentFeatures — F^S, `[..., D_S]` (KDP: last block output, all tokens, before the final LayerNorm).
 * @param teacherFeatures — F^T, `[..., D_T]` with the same leading shape.
 * @param regressor — W_p, b: `weight` `[D_S, D_T]`, `bias` `[D_T]` (a {@link FitNetsRegressor} or plain tensors).
 * @throws ShapeError when widths or leading shapes disagree.
 * @see Romero, Ballas, Kahou, Chassang, Gatta, Bengio. "FitNets: Hints for Thin Deep Nets", ICLR 2015, arXiv:1412.6550.
 */
export function fitNetsLoss(studentFeatures: tf.Tensor, teacherFeatures: tf.Tensor, regressor: LinearParams): tf.Scalar {
  expectMinRank(studentFeatures, 2, 'student features');
  expectMinRank(teacherFeatures, 2, 'teacher features');
  expectSameBatch(studentFeatures, teacherFeatures, 'student features', 'teacher features');
  const [inDim, outDim] = regressor.weight.shape;
  const sLead = studentFeatures.shape.slice(0, -1);
  const tLead = teacherFeatures.shape.slice(0, -1);
  if (
    studentFeatures.shape[studentFeatures.rank - 1] !== inDim ||
    teacherFeatures.shape[teacherFeatures.rank - 1] !== outDim ||
    regressor.bias.shape[0] !== outDim ||
    sLead.length !== tLead.length ||
    sLead.some((d, i) => d !== tLead[i])
  ) {
    throw new ShapeError(
      `FitNets shapes disagree: student [${studentFeatures.shape.join(', ')}] → regressor [${inDim}, ${outDim}] → ` +
        `teacher [${teacherFeatures.shape.join(', ')}]. The regressor must map the student width to the teacher width ` +
        'and both feature tensors must have the same leading shape (batch, tokens).',
      { student: studentFeatures.shape, teacher: teacherFeatures.shape, regressor: regressor.weight.shape },
    );
  }
  return tf.tidy(() => {
    const projected = linear(studentFeatures, regressor.weight, regressor.bias);
    return tf.mean(tf.squaredDifference(projected, stopGradient(teacherFeatures))) as tf.Scalar;
  });
}

/** Config of the `fitNets` registry entry. */
export interface FitNetsConfig {
  /** The trainable regressor (create it once with {@link createFitNetsRegressor} and train it with the student). */
  readonly regressor: LinearParams;
  /** Student tap name. Default `'features'`. */
  readonly studentTap?: string;
  /** Teacher tap name. Default `'features'`. */
  readonly teacherTap?: string;
}

/** Registry adapter: taps `student.features`, `teacher.features` (names configurable). */
export function fitNetsKdLoss(input: KdLossInput, config: FitNetsConfig): tf.Scalar {
  return fitNetsLoss(
    requireTap(input.student, config.studentTap ?? 'features', 'student'),
    requireTap(input.teacher, config.teacherTap ?? 'features', 'teacher'),
    config.regressor,
  );
}
