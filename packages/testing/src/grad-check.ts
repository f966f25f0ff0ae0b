import * as tf from '@tensorflow/tfjs';

/** Options of {@link checkGradients}. */
export interface GradCheckOptions {
  /** Finite-difference step. Default 1e-2 (float32). */
  readonly eps?: number;
  /** Allowed |analytic − numeric| ≤ atol + rtol·|numeric|. Defaults 2e-2 / 2e-3. */
  readonly rtol?: number;
  readonly atol?: number;
  /** Check at most this many coordinates per input (seeded choice). Default: all. */
  readonly maxCoordinates?: number;
}

/** Worst coordinate of a gradient check. */
export interface GradCheckResult {
  readonly maxAbsError: number;
  readonly worst: { input: number; index: number; analytic: number; numeric: number } | undefined;
}

/** Central-difference gradient of scalar `f` w.r.t. input `which` at the given coordinates. */
export function numericGradient(
  f: (...xs: tf.Tensor[]) => tf.Scalar,
  xs: tf.Tensor[],
  which: number,
  coordinates: number[],
  eps: number,
): number[] {
  const base = xs[which] as tf.Tensor;
  const values = base.dataSync().slice();
  const evalAt = (v: Float32Array): number =>
    tf.tidy(() => {
      const args = xs.map((x, i) => (i === which ? tf.tensor(v, base.shape, 'float32') : x));
      return f(...args).dataSync()[0] as number;
    });
  return coordinates.map((idx) => {
    const orig = values[idx] as number;
    values[idx] = orig + eps;
    const plus = evalAt(values as Float32Array);
    values[idx] = orig - eps;
    const minus = evalAt(values as Float32Array);
    values[idx] = orig;
    return (plus - minus) / (2 * eps);
  });
}

/**
 * Compares `tf.grads(f)` with central finite differences for every input. Throws on mismatch.
 * Use float-friendly smooth functions and small shapes; run it on the cpu backend for the best precision.
 */
export function checkGradients(
  f: (...xs: tf.Tensor[]) => tf.Scalar,
  xs: tf.Tensor[],
  options: GradCheckOptions = {},
): GradCheckResult {
  const eps = options.eps ?? 1e-2;
  const rtol = options.rtol ?? 2e-2;
  const atol = options.atol ?? 2e-3;
  const analytic = tf.tidy(() => tf.grads(f)(xs)).map((g) => {
    const d = g.dataSync().slice();
    g.dispose();
    return d;
  });
  let maxAbsError = 0;
  let worst: GradCheckResult['worst'];
  xs.forEach((x, which) => {
    const n = x.size;
    let coords = Array.from({ length: n }, (_, i) => i);
    if (options.maxCoordinates !== undefined && n > options.maxCoordinates) {
      const stride = n / options.maxCoordinates;
      coords = Array.from({ length: options.maxCoordinates }, (_, i) => Math.floor(i * stride + (i * 7919) % Math.max(1, Math.floor(stride))));
    }
    const numeric = numericGradient(f, xs, which, coords, eps);
    coords.forEach((idx, k) => {
      const a = (analytic[which] as Float32Array)[idx] as number;
      const nm = numeric[k] as number;
      const err = Math.abs(a - nm);
      if (err > maxAbsError || Number.isNaN(err)) {
        maxAbsError = Number.isNaN(err) ? Infinity : err;
        worst = { input: which, index: idx, analytic: a, numeric: nm };
      }
      if (!(err <= atol + rtol * Math.abs(nm))) {
        throw new Error(
          `gradient mismatch for input ${which} at flat index ${idx}: analytic ${a}, numeric ${nm} (eps ${eps})`,
        );
      }
    });
  });
  return { maxAbsError, worst };
}
