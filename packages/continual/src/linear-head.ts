import * as tf from '@tensorflow/tfjs';
import { linear, type Rng } from '@promptkd/core';
import { uniformTensor, uniqueName } from './prompt-init.js';

/**
 * A linear classifier head `z = h·W + b` with PyTorch's default `nn.Linear` initialisation
 * (weight and bias ~ U(−1/√D, 1/√D)). The weight is stored `[D, C]` (input-major) so the forward
 * needs no transposed matmul; `weight` in {@link LinearHead.namedVariables} follows that layout.
 */
export class LinearHead {
  readonly weight: tf.Variable;
  readonly bias: tf.Variable;

  /**
   * @param inDim D — feature width.
   * @param outDim C — total number of classes over all tasks.
   */
  constructor(
    readonly inDim: number,
    readonly outDim: number,
    rng: Rng,
    readonly name = 'head',
  ) {
    const bound = 1 / Math.sqrt(inDim);
    const w = uniformTensor([inDim, outDim], rng, -bound, bound);
    const b = uniformTensor([outDim], rng, -bound, bound);
    this.weight = tf.variable(w, true, uniqueName(`${name}.weight`));
    this.bias = tf.variable(b, true, uniqueName(`${name}.bias`));
    w.dispose();
    b.dispose();
  }

  /** `[N, D] → [N, C]` (all columns; slice to the seen classes yourself). */
  apply(h: tf.Tensor2D): tf.Tensor2D {
    return linear(h, this.weight as tf.Tensor as tf.Tensor2D, this.bias as tf.Tensor as tf.Tensor1D);
  }

  namedVariables(): ReadonlyMap<string, tf.Variable> {
    return new Map([
      [`${this.name}.weight`, this.weight],
      [`${this.name}.bias`, this.bias],
    ]);
  }

  trainableVariables(): tf.Variable[] {
    return [this.weight, this.bias];
  }

  dispose(): void {
    this.weight.dispose();
    this.bias.dispose();
  }
}
