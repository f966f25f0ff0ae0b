import * as tf from '@tensorflow/tfjs';
import { ShapeError } from '@promptkd/core';
import type { ColumnRange } from './checks.js';

const detach = tf.customGrad((...inputs: Array<tf.Tensor | tf.GradSaveFunc>) => {
  const x = inputs[0] as tf.Tensor;
  return { value: x.clone(), gradFunc: (dy: tf.Tensor | tf.Tensor[]) => tf.zerosLike(dy as tf.Tensor) };
});

/**
 * Identity in the forward pass, zero gradient in the backward pass (PyTorch `.detach()`).
 * TensorFlow.js has no `stopGradient`; this is a `customGrad` whose gradient is zeros.
 */
export function stopGradient<T extends tf.Tensor>(x: T): T {
  return detach(x) as T;
}

/** Columns `[lo, hi)` of a 2-D tensor. Differentiable on every backend (slice, not gather). */
export function sliceColumns(x: tf.Tensor2D, range: ColumnRange): tf.Tensor2D {
  if (range.lo === 0 && range.hi === x.shape[1]) return x;
  return tf.slice(x, [0, range.lo], [x.shape[0], range.hi - range.lo]);
}

/**
 * Teacher logits restricted to `[lo, hi)`. Accepts teacher logits that are already restricted
 * (exactly `hi − lo` columns, as KDP computes them) or full logits with at least `hi` columns.
 */
export function selectTeacherColumns(teacher: tf.Tensor2D, range: ColumnRange): tf.Tensor2D {
  const width = range.hi - range.lo;
  const c = teacher.shape[1];
  if (c === width) return teacher;
  if (c >= range.hi) return sliceColumns(teacher, range);
  throw new ShapeError(
    `teacher logits have ${c} classes but the distilled columns are [${range.lo}, ${range.hi}); pass either the ` +
      `${width} current-task columns or full logits with at least ${range.hi} columns (mismatched class counts).`,
    { teacherClasses: c, lo: range.lo, hi: range.hi },
  );
}

/** Affine map over the last axis: `x · weight + bias` with `weight` laid out `[in, out]`. Any rank >= 2. */
export function linear(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor | undefined): tf.Tensor {
  const inDim = x.shape[x.rank - 1] as number;
  const outDim = weight.shape[1] as number;
  const flat = x.rank === 2 ? (x as tf.Tensor2D) : tf.reshape(x, [-1, inDim]) as tf.Tensor2D;
  let y: tf.Tensor = tf.matMul(flat, weight as tf.Tensor2D);
  if (bias) y = tf.add(y, bias);
  return x.rank === 2 ? y : tf.reshape(y, [...x.shape.slice(0, -1), outDim]);
}

/** LayerNorm over the last axis (biased variance, PyTorch semantics), with affine `weight` (γ) and `bias` (β). */
export function layerNorm(x: tf.Tensor, weight: tf.Tensor, bias: tf.Tensor, epsilon: number): tf.Tensor {
  const axis = x.rank - 1;
  const { mean, variance } = tf.moments(x, axis, true);
  const normalized = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, epsilon)));
  return tf.add(tf.mul(normalized, weight), bias);
}

/**
 * Batch-mean cross-entropy `−(1/N) Σ_i log softmax(z_i)[y_i]` over the columns `[lo, hi)` of `logits`,
 * with labels re-indexed to `y − lo`. Identical (values and gradients) to setting the columns `[0, lo)` to −∞
 * (KDP/CODA-Prompt's masked CE) when `hi` is the number of seen classes.
 */
export function maskedCrossEntropyUnchecked(logits: tf.Tensor2D, labels: tf.Tensor1D, range: ColumnRange): tf.Scalar {
  const z = sliceColumns(logits, range);
  const local = range.lo === 0 ? labels : tf.sub(labels, tf.scalar(range.lo, 'int32'));
  const oneHot = tf.oneHot(local as tf.Tensor1D, range.hi - range.lo).toFloat();
  const n = logits.shape[0];
  return tf.div(tf.neg(tf.sum(tf.mul(oneHot, tf.logSoftmax(z)))), n) as tf.Scalar;
}
