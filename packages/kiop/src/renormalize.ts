import * as tf from '@tensorflow/tfjs';
import type { ClassifierModel, Normalization } from '@promptkd/core';

const channel = (values: readonly number[], c: number) => Array.from({ length: c }, (_, i) => values[i] ?? values[0] ?? 0);

/**
 * A view of `model` whose inputs are normalised with `reference` statistics instead of the model's own:
 * `model.apply(x')` with x' = ((x − μ_ref)/σ_ref)·σ_m + μ_m, so the model's internal normalisation yields
 * (x − μ_ref)/σ_ref. Reproduces the reference code's synthesis normaliser (kiop-spec §6.3: every inversion view
 * is normalised with the first source's statistics). Shares the model's variables; disposing it is a no-op.
 */
export function withReferenceNormalization(model: ClassifierModel, reference: Normalization): ClassifierModel {
  const c = model.inputChannels;
  const own = model.normalization ?? { mean: [0], std: [1] };
  const scale = channel(own.std, c).map((s, i) => s / channel(reference.std, c)[i]!);
  const shift = channel(own.mean, c).map((m, i) => m - channel(reference.mean, c)[i]! * scale[i]!);
  return {
    name: `${model.name}@referenceNormalization`,
    numClasses: model.numClasses,
    inputChannels: c,
    normalization: model.normalization,
    headNames: model.headNames,
    apply: (x, options) => {
      const moved = tf.tidy(() => tf.add(tf.mul(x, tf.tensor1d(scale)), tf.tensor1d(shift)) as tf.Tensor4D);
      const out = model.apply(moved, options);
      moved.dispose();
      return out;
    },
    namedVariables: () => model.namedVariables(),
    trainableVariables: () => model.trainableVariables(),
    setTrainable: (t) => model.setTrainable(t),
    dispose: () => {},
  };
}
