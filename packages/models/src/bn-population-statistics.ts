import * as tf from '@tensorflow/tfjs';
import { ConfigError, type BatchNormStatistics, type ClassifierModel } from '@promptkd/core';

/** Per-channel population statistics of one BatchNorm layer's input. */
export interface BnLayerPopulation {
  /** μ_c = Σ x / n over all images, heights and widths, `[C]`. */
  readonly mean: Float32Array;
  /** σ²_c = Σ (x − μ_c)² / n (biased, as BatchNorm normalises with), `[C]`. */
  readonly variance: Float32Array;
}

/** What {@link bnPopulationStatistics} measured: every BN layer's input statistics, in forward order. */
export interface BnPopulation {
  /** By BN layer name (the names of `ApplyOptions.bnOverride` and of BN taps), in forward order. */
  readonly layers: Readonly<Record<string, BnLayerPopulation>>;
  /** Images seen. */
  readonly images: number;
}

/**
 * The population mean and biased variance of every BatchNorm layer's input over all the images of `batches`, with
 * the model in batch-statistics mode (`bnStatistics: 'batch'`: every BN normalises with its batch's statistics and
 * the running statistics are neither read nor written). The batches' per-channel moments are merged exactly
 * (Chan et al.'s pairwise update, in float64), not averaged with a momentum, so the result does not depend on the
 * batch order; each batch's own normalisation does depend on its size, as in training. With one batch holding every
 * image, `model.apply(x, {bnOverride})` with these statistics equals the batch-statistics forward of that batch.
 *
 * This makes a network trained or used in batch-statistics mode (e.g. a prompted KiOP host in reference mode)
 * servable deterministically: eval mode with these statistics, one image at a time.
 * @param batches NHWC images in the model's input range; they are not disposed here.
 * @throws ConfigError when `batches` is empty or the model has no BatchNorm layer.
 */
export function bnPopulationStatistics(model: ClassifierModel, batches: Iterable<tf.Tensor4D>): BnPopulation {
  const acc = new Map<string, { n: number; mean: Float64Array; m2: Float64Array }>();
  let images = 0;
  let size: string | undefined;
  for (const x of batches) {
    // every image has the same number of positions (H·W) at a given layer, so weighting batches by their image count
    // is weighting by the N·H·W positions BatchNorm averages over
    const [n, h, w] = x.shape;
    if (size !== undefined && size !== `${h}x${w}`) {
      throw new ConfigError(`bnPopulationStatistics: batches must share one image size; got ${size} and ${h}x${w}.`, { field: 'batches' });
    }
    size = `${h}x${w}`;
    const moments = tf.tidy(() => (model.apply(x, { training: false, bnStatistics: 'batch', bnTaps: true }).bn ?? []).map((t) => ({ name: t.name, mean: t.mean, variance: t.variance })));
    try {
      if (moments.length === 0) {
        throw new ConfigError(`Model '${model.name}' has no BatchNorm layer: there are no statistics to measure.`, { field: 'model' });
      }
      for (const m of moments) merge(acc, m.name, n, m.mean.dataSync() as Float32Array, m.variance.dataSync() as Float32Array);
    } finally {
      tf.dispose(moments.flatMap((m) => [m.mean, m.variance]));
    }
    images += n;
  }
  if (images === 0) throw new ConfigError('bnPopulationStatistics needs at least one batch of images.', { field: 'batches' });
  const layers: Record<string, BnLayerPopulation> = {};
  for (const [name, a] of acc) {
    layers[name] = { mean: Float32Array.from(a.mean), variance: Float32Array.from(a.m2, (v) => v / a.n) };
  }
  return { layers, images };
}

/** Merges one batch (n images, mean, biased variance) into the running (n, mean, M2) of a layer. */
function merge(
  acc: Map<string, { n: number; mean: Float64Array; m2: Float64Array }>,
  name: string,
  n: number,
  mean: Float32Array,
  variance: Float32Array,
): void {
  const a = acc.get(name);
  if (!a) {
    acc.set(name, { n, mean: Float64Array.from(mean), m2: Float64Array.from(variance, (v) => v * n) });
    return;
  }
  const total = a.n + n;
  for (let c = 0; c < mean.length; c++) {
    const delta = (mean[c] as number) - (a.mean[c] as number);
    a.mean[c] = (a.mean[c] as number) + (delta * n) / total;
    a.m2[c] = (a.m2[c] as number) + (variance[c] as number) * n + (delta * delta * a.n * n) / total;
  }
  a.n = total;
}

/**
 * The statistics as tensors for `ApplyOptions.bnOverride` (the caller disposes them, e.g. with `tf.dispose`).
 */
export function bnOverrideTensors(population: Pick<BnPopulation, 'layers'>): Record<string, BatchNormStatistics> {
  const out: Record<string, BatchNormStatistics> = {};
  for (const [name, s] of Object.entries(population.layers)) {
    out[name] = { mean: tf.tensor1d(s.mean), variance: tf.tensor1d(s.variance) };
  }
  return out;
}
