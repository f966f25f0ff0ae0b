import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError, type LossResult } from '@promptkd/core';

/** Named loss terms with their weights: `{ name: [weight, scalar] }`. */
export type WeightedTerms = Readonly<Record<string, readonly [number, tf.Scalar]>>;

/**
 * Sums weighted loss terms and keeps every term for logging (torchdistill's `WeightedSumLoss`):
 *
 * ```
 * total = Σ_k w_k · L_k
 * ```
 *
 * `terms` holds the **unweighted** scalars you passed in (the same tensor objects, not copies), so a trainer can
 * log each term; `total` is a new scalar. Dispose both (or call it inside `tf.tidy` / `tf.variableGrads`).
 *
 * @param terms — `{ name: [weight, scalar] }`; at least one entry; weights finite.
 * @throws ConfigError on an empty map or a non-finite weight; ShapeError when a term is not a scalar.
 * @example
 * // KDP student objective (kdp-spec §5.2):
 * const { total, terms } = weightedSum({ ce: [1 - alpha, ce], kd: [alpha, tokenKd], pool: [1, keyLoss] });
 */
export function weightedSum(terms: WeightedTerms): LossResult {
  const names = Object.keys(terms);
  if (names.length === 0) throw new ConfigError('weightedSum needs at least one term.', { field: 'terms' });
  const plain: Record<string, tf.Scalar> = {};
  for (const name of names) {
    const [weight, value] = terms[name] as readonly [number, tf.Scalar];
    if (typeof weight !== 'number' || !Number.isFinite(weight)) {
      throw new ConfigError(`Weight of loss term '${name}' must be a finite number, got ${String(weight)}.`, {
        field: `terms.${name}`,
      });
    }
    if (!value || value.rank !== 0) {
      throw new ShapeError(`Loss term '${name}' must be a scalar tensor, got shape [${value?.shape.join(', ') ?? ''}].`, {
        term: name,
      });
    }
    plain[name] = value;
  }
  const total = tf.tidy(() =>
    tf.addN(names.map((n) => {
      const [w, v] = terms[n] as readonly [number, tf.Scalar];
      return w === 1 ? v.clone() : tf.mul(v, w);
    })),
  ) as tf.Scalar;
  return { total, terms: plain };
}

/** Reads `total` and every term of a {@link LossResult} as numbers (for logs). Does not dispose anything. */
export function lossValues(result: LossResult): { total: number; terms: Record<string, number> } {
  const terms: Record<string, number> = {};
  for (const [k, v] of Object.entries(result.terms)) terms[k] = v.dataSync()[0] as number;
  return { total: result.total.dataSync()[0] as number, terms };
}
