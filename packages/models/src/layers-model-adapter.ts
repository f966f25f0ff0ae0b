import * as tf from '@tensorflow/tfjs';
import { ConfigError, ShapeError, type ApplyOptions, type ClassifierModel, type ModelOutput, type Normalization } from '@promptkd/core';
import type { TorchNamedModel } from './classifier-base.js';
import { checkImageInput, normalizeInput } from './layers.js';

/** Options of {@link wrapLayersModel}. */
export interface WrapLayersModelOptions {
  readonly name?: string;
  /** Normalisation applied before the LayersModel (if it does not normalise itself). */
  readonly normalization?: Normalization;
}

/**
 * Adapts a user's `tf.LayersModel` (NHWC input, LOGITS output [N, K]) to {@link ClassifierModel}.
 * Logits only: BN taps and named taps are not available (requesting them throws a ConfigError).
 * `namedVariables()` uses the tfjs weight names (e.g. `dense_Dense1/kernel`), no PyTorch layout conversion.
 */
export function wrapLayersModel(model: tf.LayersModel, options: WrapLayersModelOptions = {}): ClassifierModel & TorchNamedModel {
  const outShape = model.outputs[0]?.shape;
  const inShape = model.inputs[0]?.shape;
  if (!outShape || outShape.length !== 2 || !inShape || inShape.length !== 4) {
    throw new ShapeError(
      `wrapLayersModel needs a model with one NHWC input and a [N, K] logits output; got input ${JSON.stringify(inShape)} and output ${JSON.stringify(outShape)}.`,
      { input: inShape, output: outShape },
    );
  }
  const numClasses = outShape[1] as number;
  const inputChannels = inShape[3] as number;
  const name = options.name ?? model.name;
  const normalization = options.normalization;
  const lastWithWeights = [...model.layers].reverse().find((l) => l.weights.length > 0);
  const headNames = lastWithWeights ? lastWithWeights.weights.map((w) => w.originalName) : [];
  return {
    headNames,
    name,
    numClasses,
    inputChannels,
    normalization,
    apply(x: tf.Tensor4D, opts: ApplyOptions = {}): ModelOutput {
      if (opts.bnTaps || (opts.taps && opts.taps.length > 0)) {
        throw new ConfigError(
          `Model '${name}' wraps a tf.LayersModel and exposes logits only (no BN or named taps). Use a @promptkd/models model for taps.`,
          { field: opts.bnTaps ? 'bnTaps' : 'taps' },
        );
      }
      checkImageInput(x, inputChannels, name);
      const logits = tf.tidy(() => model.apply(normalizeInput(x, normalization), { training: opts.training ?? false }) as tf.Tensor2D);
      return { logits, taps: {} };
    },
    namedVariables(): ReadonlyMap<string, tf.Variable> {
      const out = new Map<string, tf.Variable>();
      for (const w of model.weights) {
        let key = w.originalName;
        for (let i = 1; out.has(key); i++) key = `${w.originalName}_${i}`;
        out.set(key, w.read() as tf.Variable);
      }
      return out;
    },
    trainableVariables(): tf.Variable[] {
      return model.trainable ? model.trainableWeights.map((w) => w.read() as tf.Variable) : [];
    },
    setTrainable(trainable: boolean): void {
      model.trainable = trainable;
    },
    dispose(): void {
      model.dispose();
    },
  };
}
