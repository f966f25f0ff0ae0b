import type * as tf from '@tensorflow/tfjs';
import { ConfigError, type LabelMapping } from '@promptkd/core';
import { frequencyLabelMappingFrom, type ClassEvidence } from './frequency-label-mapping.js';
import { FixedLabelMapping } from './label-mapping.js';
import { randomLabelMapping } from './random-label-mapping.js';

/** Config of {@link IterativeLabelMapping}. */
export interface IterativeLabelMappingConfig {
  /** K_host. */
  readonly hostClasses: number;
  /** K_source, ≤ K_host. */
  readonly sourceClasses: number;
  /** Recompute the frequency mapping every `interval` epochs (ILM-VP: 1). Default 1. */
  readonly interval?: number;
  /** The mapping used before the first update: a seeded random mapping (default seed 0) unless `initial` is given. */
  readonly seed?: number;
  readonly initial?: readonly number[];
}

/**
 * Iterative label mapping (ILM, ILM-VP): the frequency mapping recomputed every `interval` epochs from the
 * current prompted host's predictions, so the mapping follows the prompt as it trains. ILM-VP updates at the start
 * of every epoch, including epoch 0 (before any training); call {@link IterativeLabelMapping.maybeUpdate} at the
 * start of each epoch. Data-free (KiOP-style) use: the target labels are the source teacher's argmax on
 * synthetic images — pass the teacher logits as `targetLabels`.
 *
 * The current mapping is immutable between updates; `apply` always uses the latest one.
 */
export class IterativeLabelMapping implements LabelMapping {
  readonly key = 'iterative';
  readonly hostClasses: number;
  readonly sourceClasses: number;
  readonly interval: number;
  private current: FixedLabelMapping;
  /** Epochs at which the mapping was recomputed. */
  readonly updates: number[] = [];

  constructor(config: IterativeLabelMappingConfig) {
    const interval = config.interval ?? 1;
    if (!Number.isInteger(interval) || interval < 1) {
      throw new ConfigError(`Iterative label mapping: 'interval' must be a positive integer, got ${interval}.`, {
        field: 'interval',
      });
    }
    this.interval = interval;
    this.current = config.initial
      ? new FixedLabelMapping(config.initial, config.hostClasses, 'iterative')
      : randomLabelMapping({ hostClasses: config.hostClasses, sourceClasses: config.sourceClasses, seed: config.seed ?? 0 });
    if (this.current.sourceClasses !== config.sourceClasses) {
      throw new ConfigError(
        `Iterative label mapping: 'initial' has ${this.current.sourceClasses} entries, expected sourceClasses = ${config.sourceClasses}.`,
        { field: 'initial' },
      );
    }
    this.hostClasses = config.hostClasses;
    this.sourceClasses = config.sourceClasses;
  }

  /** The current π. */
  get mapping(): readonly number[] {
    return this.current.mapping;
  }

  /** True when the mapping should be recomputed at the start of `epoch` (0-based): epoch % interval == 0. */
  shouldUpdate(epoch: number): boolean {
    return epoch % this.interval === 0;
  }

  /** Recomputes the mapping now from `(hostPredictions, targetLabels)` (FLM) and returns it. */
  update(hostPredictions: ClassEvidence, targetLabels: ClassEvidence, epoch?: number): FixedLabelMapping {
    this.current = frequencyLabelMappingFrom(hostPredictions, targetLabels, {
      hostClasses: this.hostClasses,
      sourceClasses: this.sourceClasses,
    });
    if (epoch !== undefined) this.updates.push(epoch);
    return this.current;
  }

  /** Sets π to a saved mapping (resuming a run), validated like `initial`. */
  restore(mapping: readonly number[]): void {
    const restored = new FixedLabelMapping(mapping, this.hostClasses, 'iterative');
    if (restored.sourceClasses !== this.sourceClasses) {
      throw new ConfigError(`Iterative label mapping: the saved mapping has ${restored.sourceClasses} entries, expected ${this.sourceClasses}.`, {
        field: 'mapping',
      });
    }
    this.current = restored;
  }

  /**
   * At the start of `epoch`: if an update is due, calls `evidence()` (run the prompted host over the data,
   * returning host predictions and target labels) and recomputes. Returns whether it updated.
   */
  maybeUpdate(epoch: number, evidence: () => { hostPredictions: ClassEvidence; targetLabels: ClassEvidence }): boolean {
    if (!this.shouldUpdate(epoch)) return false;
    const { hostPredictions, targetLabels } = evidence();
    this.update(hostPredictions, targetLabels, epoch);
    return true;
  }

  apply(hostLogits: tf.Tensor2D): tf.Tensor2D {
    return this.current.apply(hostLogits);
  }

  /** The current mapping as plain JSON. */
  toJSON(): { key: string; hostClasses: number; mapping: number[] } {
    return { key: this.key, hostClasses: this.hostClasses, mapping: [...this.current.mapping] };
  }
}
