import type * as tf from '@tensorflow/tfjs';
import { ConfigError, type Taps } from '@promptkd/core';

/** The named tap `name` of `side`'s outputs, or a {@link ConfigError} listing the available taps. */
export function requireTap(taps: Taps, name: string, side: 'student' | 'teacher'): tf.Tensor {
  const t = taps[name];
  if (!t) {
    const have = Object.keys(taps).sort();
    throw new ConfigError(
      `This loss needs the ${side} tap '${name}', but the ${side} outputs only have: ` +
        `${have.length ? have.join(', ') : '(none)'}. Request it in the forward pass (ApplyOptions.taps) or set the tap name in the loss config.`,
      { field: `${side}.${name}`, available: have },
    );
  }
  return t;
}

/** The labels of a KD input, or a {@link ConfigError}. */
export function requireLabels(labels: tf.Tensor1D | undefined, loss: string): tf.Tensor1D {
  if (!labels) {
    throw new ConfigError(`${loss} needs class labels (KdLossInput.labels, int32 [N]).`, { field: 'labels' });
  }
  return labels;
}
