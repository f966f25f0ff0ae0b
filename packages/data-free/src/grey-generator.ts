import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@promptkd/core';
import type { SynthesisGenerator } from './generator.js';

/**
 * A generator whose images are grey: a one-channel generator's output repeated over `channels` channels. For
 * teachers trained on grey images stored as RGB (MNIST, Fashion-MNIST replicated to 3 channels), this keeps
 * synthesis in the teacher's input domain: a colour image is one the teacher never saw, and KiOP's bank
 * transform greys it before knowledge storing (kiop-spec §3.2), which changes what the teacher's label was for.
 * Not in the reference, whose generator always draws RGB.
 */
export class GreyGenerator implements SynthesisGenerator {
  /**
   * @param inner — a generator of one-channel images [N, H, W, 1] in [0, 1].
   * @param channels — the teacher's input channels C (3 for RGB).
   */
  constructor(
    private readonly inner: SynthesisGenerator & { dispose?(): void },
    private readonly channels: number,
  ) {}

  get latentDim(): number | undefined {
    return this.inner.latentDim;
  }

  apply(z: tf.Tensor2D, options?: { training?: boolean }): tf.Tensor4D {
    return tf.tidy(() => {
      const x = this.inner.apply(z, options);
      if (x.shape[3] !== 1) throw new RangeError(`GreyGenerator wraps a one-channel generator; it made ${x.shape[3]} channels.`);
      return tf.tile(x, [1, 1, 1, this.channels]);
    });
  }

  trainableVariables(): tf.Variable[] {
    return this.inner.trainableVariables();
  }

  reinitialize(rng: Rng): void {
    this.inner.reinitialize(rng);
  }

  dispose(): void {
    this.inner.dispose?.();
  }
}
