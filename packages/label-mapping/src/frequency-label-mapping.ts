import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError } from '@promptkd/core';
import { InvalidLabelMappingError } from './errors.js';
import { FixedLabelMapping } from './label-mapping.js';

/**
 * Host predictions: either the host's logits `[N, K_host]` (argmax is taken) or the argmax host classes.
 * Target labels: either class indices or, in the data-free setting, the source teacher's logits `[N, K_source]`
 * on synthetic images (argmax is taken).
 */
export type ClassEvidence = tf.Tensor | ArrayLike<number>;

/** Reads class indices from logits (`[N, K]` → argmax) or from an index list/tensor. Synchronous. */
export function toClassIndices(evidence: ClassEvidence, what: string): Int32Array {
  if (evidence instanceof tf.Tensor) {
    if (evidence.rank === 2) {
      const idx = tf.argMax(evidence, 1);
      const out = Int32Array.from(idx.dataSync());
      idx.dispose();
      return out;
    }
    if (evidence.rank === 1) return Int32Array.from(evidence.dataSync());
    throw new ShapeError(`${what} must be logits [N, K] or class indices [N], got [${evidence.shape.join(', ')}].`, {
      actual: evidence.shape,
    });
  }
  return Int32Array.from(evidence);
}

/**
 * The count matrix C `[K_host][K_source]`: C[s][t] = number of samples with target label t whose host argmax is s
 * (ILM-VP `get_dist_matrix`).
 */
export function countMatrix(
  hostPredictions: ClassEvidence,
  targetLabels: ClassEvidence,
  options: { hostClasses: number; sourceClasses: number },
): number[][] {
  const { hostClasses, sourceClasses } = options;
  const s = toClassIndices(hostPredictions, 'hostPredictions');
  const t = toClassIndices(targetLabels, 'targetLabels');
  if (s.length !== t.length) {
    throw new ShapeError(`hostPredictions has ${s.length} samples but targetLabels has ${t.length}.`, {
      predictions: s.length,
      labels: t.length,
    });
  }
  const c = Array.from({ length: hostClasses }, () => new Array<number>(sourceClasses).fill(0));
  for (let i = 0; i < s.length; i++) {
    const si = s[i] as number;
    const ti = t[i] as number;
    if (si < 0 || si >= hostClasses || ti < 0 || ti >= sourceClasses) {
      throw new InvalidLabelMappingError(
        'out-of-range',
        `Sample ${i}: host class ${si} / target class ${ti} outside [0, ${hostClasses}) × [0, ${sourceClasses}).`,
        { sample: i, hostClass: si, targetClass: ti },
      );
    }
    (c[si] as number[])[ti] = ((c[si] as number[])[ti] as number) + 1;
  }
  return c;
}

/**
 * Frequency label mapping (FLM, ILM-VP): greedy one-to-one assignment on the count matrix C `[K_host][K_source]`.
 * Repeatedly take the largest remaining entry (s*, t*) — ties go to the first in row-major order, like
 * `torch.argmax` on the flattened matrix — set π(t*) = s*, then remove row s* and column t*.
 * Does not modify `counts`. Needs K_host ≥ K_source.
 */
export function frequencyLabelMapping(counts: readonly (readonly number[])[]): FixedLabelMapping {
  const hostClasses = counts.length;
  const sourceClasses = counts[0]?.length ?? 0;
  if (hostClasses === 0 || sourceClasses === 0) {
    throw new ConfigError('frequencyLabelMapping needs a non-empty count matrix [K_host][K_source].', {
      field: 'counts',
    });
  }
  if (counts.some((row) => row.length !== sourceClasses)) {
    throw new ShapeError('The count matrix rows must all have K_source entries.', { field: 'counts' });
  }
  if (sourceClasses > hostClasses) {
    throw new InvalidLabelMappingError(
      'too-many-source-classes',
      `The count matrix has ${sourceClasses} source classes but only ${hostClasses} host classes; a one-to-one ` +
        'frequency mapping needs K_host ≥ K_source.',
      { sourceClasses, hostClasses },
    );
  }
  const work = counts.map((row) => [...row]);
  const mapping = new Array<number>(sourceClasses).fill(-1);
  for (let step = 0; step < sourceClasses; step++) {
    let best = -Infinity;
    let bs = -1;
    let bt = -1;
    for (let s = 0; s < hostClasses; s++) {
      const row = work[s] as number[];
      for (let t = 0; t < sourceClasses; t++) {
        const v = row[t] as number;
        if (v > best) {
          best = v;
          bs = s;
          bt = t;
        }
      }
    }
    mapping[bt] = bs;
    (work[bs] as number[]).fill(-1);
    for (const row of work) row[bt] = -1;
  }
  return new FixedLabelMapping(mapping, hostClasses, 'frequency');
}

/**
 * FLM from evidence: builds {@link countMatrix} from `(hostPredictions, targetLabels)` and runs
 * {@link frequencyLabelMapping}. This is one step of iterative label mapping. In the data-free setting pass the
 * source teacher's logits on synthetic images as `targetLabels` (their argmax are the labels).
 */
export function frequencyLabelMappingFrom(
  hostPredictions: ClassEvidence,
  targetLabels: ClassEvidence,
  options: { hostClasses: number; sourceClasses: number },
): FixedLabelMapping {
  return frequencyLabelMapping(countMatrix(hostPredictions, targetLabels, options));
}
