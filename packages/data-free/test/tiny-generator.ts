import * as tf from '@tensorflow/tfjs';
import type { Rng } from '@promptkd/core';
import { type SynthesisGenerator, cmiResetParameters } from '@promptkd/data-free';

/**
 * CMI's generator architecture for tests and the smoke script (models' `CmiGenerator` is the product version):
 * Linear(nz → 2ngf·(s/4)²) → BN → up×2 → conv3×3 → BN → LeakyReLU(0.2) → up×2 → conv3×3(→ ngf) → BN → LeakyReLU
 * → conv3×3(→ nc, bias) → sigmoid. Nearest upsampling uses `resizeNearestNeighbor` (fast gradient on wasm).
 * PyTorch-style names so {@link cmiResetParameters} applies.
 */
export class TinyGenerator implements SynthesisGenerator {
  readonly latentDim: number;
  readonly params = new Map<string, tf.Variable>();
  reinitCalls = 0;
  private readonly s: number;
  private readonly g2: number;

  constructor(
    nz: number,
    private readonly ngf = 4,
    private readonly imageSize = 8,
    private readonly nc = 3,
  ) {
    this.latentDim = nz;
    this.s = imageSize / 4;
    this.g2 = 2 * ngf;
    const add = (name: string, shape: number[]): void => {
      this.params.set(name, tf.tidy(() => tf.variable(tf.zeros(shape), true)));
    };
    add('l1.0.weight', [nz, this.g2 * this.s * this.s]);
    add('l1.0.bias', [this.g2 * this.s * this.s]);
    add('conv_blocks.0.weight', [this.g2]);
    add('conv_blocks.0.bias', [this.g2]);
    add('conv_blocks.2.weight', [3, 3, this.g2, this.g2]);
    add('conv_blocks.3.weight', [this.g2]);
    add('conv_blocks.3.bias', [this.g2]);
    add('conv_blocks.6.weight', [3, 3, this.g2, ngf]);
    add('conv_blocks.7.weight', [ngf]);
    add('conv_blocks.7.bias', [ngf]);
    add('conv_blocks.9.weight', [3, 3, ngf, nc]);
    add('conv_blocks.9.bias', [nc]);
  }

  private p(name: string): tf.Variable {
    return this.params.get(name) as tf.Variable;
  }

  private bn(x: tf.Tensor4D, name: string): tf.Tensor4D {
    const { mean, variance } = tf.moments(x, [0, 1, 2]);
    return tf.add(tf.mul(tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-5))), this.p(`${name}.weight`)), this.p(`${name}.bias`));
  }

  private up(x: tf.Tensor4D): tf.Tensor4D {
    return tf.image.resizeNearestNeighbor(x, [x.shape[1] * 2, x.shape[2] * 2]);
  }

  private conv(x: tf.Tensor4D, name: string): tf.Tensor4D {
    return tf.conv2d(x, this.p(name) as tf.Tensor4D, 1, 'same');
  }

  apply(z: tf.Tensor2D): tf.Tensor4D {
    return tf.tidy(() => {
      const n = z.shape[0];
      let h = tf.reshape(tf.add(tf.matMul(z, this.p('l1.0.weight')), this.p('l1.0.bias')), [n, this.s, this.s, this.g2]) as tf.Tensor4D;
      h = this.up(this.bn(h, 'conv_blocks.0'));
      h = this.up(tf.leakyRelu(this.bn(this.conv(h, 'conv_blocks.2.weight'), 'conv_blocks.3'), 0.2));
      h = tf.leakyRelu(this.bn(this.conv(h, 'conv_blocks.6.weight'), 'conv_blocks.7'), 0.2);
      return tf.sigmoid(tf.add(this.conv(h, 'conv_blocks.9.weight'), this.p('conv_blocks.9.bias'))) as tf.Tensor4D;
    });
  }

  trainableVariables(): tf.Variable[] {
    return [...this.params.values()];
  }

  reinitialize(rng: Rng): void {
    this.reinitCalls++;
    cmiResetParameters(this.params, rng);
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}
