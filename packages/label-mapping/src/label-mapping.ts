import * as tf from '@tensorflow/tfjs';
import { ShapeError, type LabelMapping } from '@promptkd/core';
import { InvalidLabelMappingError } from './errors.js';

/**
 * Checks that π is a one-to-one map from `K_source = mapping.length` source classes into
 * `[0, hostClasses)`; throws {@link InvalidLabelMappingError} otherwise.
 */
export function validateLabelMapping(mapping: readonly number[], hostClasses: number): void {
  if (!Number.isInteger(hostClasses) || hostClasses < 1) {
    throw new InvalidLabelMappingError('out-of-range', `hostClasses must be a positive integer, got ${hostClasses}.`, {
      hostClasses,
    });
  }
  if (mapping.length === 0) {
    throw new InvalidLabelMappingError('empty', 'A label mapping needs at least one source class.', {});
  }
  if (mapping.length > hostClasses) {
    throw new InvalidLabelMappingError(
      'too-many-source-classes',
      `The source task has ${mapping.length} classes but the host model only ${hostClasses}; a one-to-one label ` +
        'mapping needs K_host ≥ K_source. Use a host with more classes, or fewer source classes.',
      { sourceClasses: mapping.length, hostClasses },
    );
  }
  const seen = new Map<number, number>();
  mapping.forEach((h, j) => {
    if (!Number.isInteger(h)) {
      throw new InvalidLabelMappingError('not-integer', `π(${j}) = ${h} is not an integer host class index.`, {
        sourceClass: j,
        hostClass: h,
      });
    }
    if (h < 0 || h >= hostClasses) {
      throw new InvalidLabelMappingError(
        'out-of-range',
        `π(${j}) = ${h} is outside the host classes [0, ${hostClasses}).`,
        { sourceClass: j, hostClass: h, hostClasses },
      );
    }
    const prev = seen.get(h);
    if (prev !== undefined) {
      throw new InvalidLabelMappingError(
        'duplicate-target',
        `Source classes ${prev} and ${j} both map to host class ${h}; a label mapping must be one-to-one.`,
        { sourceClasses: [prev, j], hostClass: h },
      );
    }
    seen.set(h, j);
  });
}

/**
 * The one-hot selection matrix S `[K_host, K_source]` with S[π(j), j] = 1, so that
 * `hostLogits · S` = `hostLogits[:, π]`.
 */
export function selectionMatrix(mapping: readonly number[], hostClasses: number): tf.Tensor2D {
  const k = mapping.length;
  const data = new Float32Array(hostClasses * k);
  mapping.forEach((h, j) => {
    data[h * k + j] = 1;
  });
  return tf.tensor2d(data, [hostClasses, k]);
}

/**
 * Applies π to host logits: `out[:, j] = hostLogits[:, π(j)]` (ILM-VP's `label_mapping_base`).
 * Implemented as a matMul with the one-hot {@link selectionMatrix}, so it is differentiable on every backend
 * (wasm has no gradient for `tf.gather`). `hostLogits` is `[N, K_host]`; returns `[N, K_source]`.
 */
export function applyLabelMapping(hostLogits: tf.Tensor2D, mapping: LabelMapping | readonly number[]): tf.Tensor2D {
  const pi = isLabelMapping(mapping) ? mapping.mapping : mapping;
  if (hostLogits.rank !== 2) {
    throw new ShapeError(`applyLabelMapping expects host logits [N, K_host], got [${hostLogits.shape.join(', ')}].`, {
      actual: hostLogits.shape,
    });
  }
  const hostClasses = hostLogits.shape[1];
  validateLabelMapping(pi, hostClasses);
  return tf.tidy(() => tf.matMul(hostLogits, selectionMatrix(pi, hostClasses)));
}

function isLabelMapping(m: LabelMapping | readonly number[]): m is LabelMapping {
  return !Array.isArray(m) && typeof (m as LabelMapping).apply === 'function';
}

/** A fixed, validated label mapping (an immutable {@link LabelMapping}). */
export class FixedLabelMapping implements LabelMapping {
  readonly key: string;
  /** π: source class j reads host logit `mapping[j]`. */
  readonly mapping: readonly number[];
  /** K_host. */
  readonly hostClasses: number;

  constructor(mapping: readonly number[], hostClasses: number, key = 'fixed') {
    validateLabelMapping(mapping, hostClasses);
    this.mapping = Object.freeze([...mapping]);
    this.hostClasses = hostClasses;
    this.key = key;
  }

  /** K_source. */
  get sourceClasses(): number {
    return this.mapping.length;
  }

  apply(hostLogits: tf.Tensor2D): tf.Tensor2D {
    if (hostLogits.rank !== 2 || hostLogits.shape[1] !== this.hostClasses) {
      throw new ShapeError(
        `Label mapping '${this.key}' was built for ${this.hostClasses} host classes; got logits [${hostLogits.shape.join(', ')}].`,
        { expected: [null, this.hostClasses], actual: hostLogits.shape },
      );
    }
    return applyLabelMapping(hostLogits, this.mapping);
  }

  /** Plain JSON (`{key, hostClasses, mapping}`) for artifacts; rebuild with {@link labelMappingFromJSON}. */
  toJSON(): { key: string; hostClasses: number; mapping: number[] } {
    return { key: this.key, hostClasses: this.hostClasses, mapping: [...this.mapping] };
  }
}

/** Rebuilds a mapping saved with {@link FixedLabelMapping.toJSON} (validated). */
export function labelMappingFromJSON(json: { key?: string; hostClasses: number; mapping: readonly number[] }): FixedLabelMapping {
  return new FixedLabelMapping(json.mapping, json.hostClasses, json.key ?? 'fixed');
}
