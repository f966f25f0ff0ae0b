import * as tf from '@tensorflow/tfjs';
import { PromptKdError, l2Norm, type ClassifierModel, type Synthesizer } from '@promptkd/core';
import { bankBatches } from './bank-agreement.js';
import type { Augment, EvalSet, ImageStream } from './ports.js';

/** What {@link featureAlignment} measures, each in [0, 1]. */
export interface FeatureAlignment {
  /**
   * Fraction of training images (bank or real stream) whose features are nearest (cosine) to the real class mean of
   * the class the teacher gives them: do this model's features place a synthetic class-c image near real class c?
   */
  readonly bank: number;
  /**
   * Nearest-class-mean accuracy on the real labelled images themselves (means from the same images): how well this
   * model's features separate the real classes at all — what a perfect readout of these features could reach.
   */
  readonly real: number;
}

/** The model returns no `features` tap, so {@link featureAlignment} cannot run on it (a diagnostic: the run goes on without it). */
export class MissingFeaturesError extends PromptKdError {
  constructor(model: string) {
    super('E_NO_FEATURES', `Model '${model}' returns no 'features' tap (apply(x, { taps: ['features'] })); the feature-alignment diagnostic needs one.`, { model });
  }
}

/** `features` of a model output, flattened to `[N, D]`; throws {@link MissingFeaturesError} when the model has none. */
export function featuresTap(out: { readonly taps: Readonly<Record<string, tf.Tensor>> }, model: string): tf.Tensor2D {
  const f = out.taps.features;
  if (!f) throw new MissingFeaturesError(model);
  return tf.reshape(f, [f.shape[0]!, -1]) as tf.Tensor2D;
}

/** A model's penultimate features (tap `features`) in eval mode, `[N, D]`. */
export function modelFeatures(model: ClassifierModel): (x: tf.Tensor4D) => tf.Tensor2D {
  return (x) => tf.tidy(() => featuresTap(model.apply(x, { training: false, taps: ['features'] }), model.name));
}

const normalize = (f: tf.Tensor2D): tf.Tensor2D => tf.div(f, tf.add(l2Norm(f, 1, true), 1e-12));

/** Class means of a feature space, from real labelled images ({@link realClassMeans}). */
export interface ClassMeans {
  /** μ_c, L2-normalised, one per class. */
  readonly means: readonly Float64Array[];
  /** Nearest-class-mean accuracy on the images the means came from ({@link FeatureAlignment.real}). */
  readonly separability: number;
  /** The class whose mean is nearest (cosine) to an L2-normalised feature row. */
  nearest(row: ArrayLike<number>): number;
}

/** Class means μ_c of the L2-normalised `features` of real labelled images, and the nearest-mean accuracy on them. */
export async function realClassMeans(features: (x: tf.Tensor4D) => tf.Tensor2D, real: EvalSet): Promise<ClassMeans> {
  const rows: Float32Array[] = [];
  const labels: number[] = [];
  let dim = 0;
  for await (const { x, y } of real()) {
    try {
      const f = tf.tidy(() => normalize(features(x)));
      dim = f.shape[1];
      const [data, ys] = await Promise.all([f.data(), y.data()]);
      f.dispose();
      for (let i = 0; i < ys.length; i++) {
        rows.push((data as Float32Array).subarray(i * dim, (i + 1) * dim));
        labels.push(ys[i] as number);
      }
    } finally {
      tf.dispose([x, y]);
    }
  }
  const means = Array.from({ length: labels.length ? Math.max(...labels) + 1 : 0 }, () => new Float64Array(dim));
  rows.forEach((row, i) => row.forEach((v, j) => (means[labels[i]!]![j]! += v)));
  for (const m of means) {
    const norm = Math.hypot(...m) || 1;
    m.forEach((v, j) => (m[j] = v / norm));
  }
  const nearest = (row: ArrayLike<number>): number => {
    let best = 0;
    let bestScore = -Infinity;
    means.forEach((m, c) => {
      let s = 0;
      for (let j = 0; j < dim; j++) s += (row[j] as number) * (m[j] as number);
      if (s > bestScore) [best, bestScore] = [c, s];
    });
    return best;
  };
  const hits = rows.filter((row, i) => nearest(row) === labels[i]).length;
  return { means, separability: labels.length ? hits / labels.length : Number.NaN, nearest };
}

/**
 * For each feature space, the fraction of `n` training images ({@link bankBatches}), labelled with the teacher's
 * argmax, whose features are nearest to that label's class mean ({@link FeatureAlignment.bank}). One pass over the
 * images and one teacher forward per batch for all spaces.
 */
export async function bankAlignment(
  spaces: readonly { readonly features: (x: tf.Tensor4D) => tf.Tensor2D; readonly means: ClassMeans }[],
  images: Synthesizer | ImageStream,
  teacherLogits: (x: tf.Tensor4D) => tf.Tensor2D,
  augment: Augment | undefined,
  options: { n: number; batchSize: number; seed: number },
): Promise<number[]> {
  const hits = spaces.map(() => 0);
  let total = 0;
  for (const x of bankBatches(images, augment, options)) {
    const target = tf.tidy(() => tf.argMax(teacherLogits(x), 1));
    const labels = await target.data();
    target.dispose();
    for (const [k, { features, means }] of spaces.entries()) {
      const f = tf.tidy(() => normalize(features(x)));
      const [, dim] = f.shape;
      const data = await f.data();
      f.dispose();
      for (let i = 0; i < labels.length; i++) if (means.nearest(data.subarray(i * dim, (i + 1) * dim)) === labels[i]) hits[k]!++;
    }
    total += labels.length;
  }
  return hits.map((h) => (total === 0 ? Number.NaN : h / total));
}

/**
 * Diagnostic: does a model see the images a prompt trains on the way it sees real images of the same class?
 * Class means μ_c of the L2-normalised `features` of real labelled images (the source's test set); each of `n`
 * training images ({@link bankBatches}), labelled with the teacher's argmax, goes to the nearest mean by cosine.
 * High `bank` for the source but low for the prompted host says the synthetic images carry the source's classes
 * in a form the host does not share with real images, so a prompt fitted to them cannot carry over.
 * Not part of KiOP: it reads labelled real images. ({@link realClassMeans} + {@link bankAlignment} for one model.)
 */
export async function featureAlignment(
  features: (x: tf.Tensor4D) => tf.Tensor2D,
  real: EvalSet,
  images: Synthesizer | ImageStream,
  teacherLogits: (x: tf.Tensor4D) => tf.Tensor2D,
  augment: Augment | undefined,
  options: { n: number; batchSize: number; seed: number },
): Promise<FeatureAlignment> {
  const means = await realClassMeans(features, real);
  if (means.means.length === 0) return { bank: Number.NaN, real: Number.NaN };
  const [bank] = await bankAlignment([{ features, means }], images, teacherLogits, augment, options);
  return { bank: bank!, real: means.separability };
}
