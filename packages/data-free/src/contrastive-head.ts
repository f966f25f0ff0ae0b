import * as tf from '@tensorflow/tfjs';
import { ConfigError, l2Normalize, type Rng, ShapeError } from '@promptkd/core';

/** Options of {@link ContrastiveHead}. */
export interface ContrastiveHeadOptions {
  /** D: feature dimension (total channels of the teacher's BN inputs). */
  readonly inputDim: number;
  /** Hidden width (CMI: D). Lower it for large D (ResNet-50: D = 26 560 → a 0.7 B-parameter head). */
  readonly hiddenDim?: number;
  /** Projection size (KiOP: 256). */
  readonly outputDim?: number;
  /** Seeds the PyTorch-style `nn.Linear` initialisation U(−1/√fan_in, 1/√fan_in). */
  readonly rng: Rng;
}

/**
 * CMI's projection head `h`: Linear(D, H) → ReLU → Linear(H, P) → L2-normalise each row.
 * Weights are stored `[in, out]` (TensorFlow layout).
 */
export class ContrastiveHead {
  readonly inputDim: number;
  readonly hiddenDim: number;
  readonly outputDim: number;
  private readonly w1: tf.Variable;
  private readonly b1: tf.Variable;
  private readonly w2: tf.Variable;
  private readonly b2: tf.Variable;

  constructor(options: ContrastiveHeadOptions) {
    const d = options.inputDim;
    const h = options.hiddenDim ?? d;
    const p = options.outputDim ?? 256;
    for (const [field, v] of [['inputDim', d], ['hiddenDim', h], ['outputDim', p]] as const) {
      if (!Number.isInteger(v) || v < 1) {
        throw new ConfigError(`Contrastive head: ${field} must be a positive integer, got ${v}.`, { field });
      }
    }
    this.inputDim = d;
    this.hiddenDim = h;
    this.outputDim = p;
    const uniform = (shape: number[], fanIn: number): tf.Tensor => {
      const bound = 1 / Math.sqrt(fanIn);
      return tf.randomUniform(shape, -bound, bound, 'float32', options.rng.seed());
    };
    const make = (shape: number[], fanIn: number): tf.Variable => tf.tidy(() => tf.variable(uniform(shape, fanIn), true));
    this.w1 = make([d, h], d);
    this.b1 = make([h], d);
    this.w2 = make([h, p], h);
    this.b2 = make([p], h);
  }

  /** Projects features [M, D] to L2-normalised rows [M, P] (`F.normalize`, ε = 1e-12). */
  apply(features: tf.Tensor2D): tf.Tensor2D {
    if (features.shape[1] !== this.inputDim) {
      throw new ShapeError(
        `Contrastive head expects ${this.inputDim} features per row, got ${features.shape[1]}.`,
        { expected: this.inputDim, got: features.shape[1] },
      );
    }
    return tf.tidy(() => {
      const hidden = tf.relu(tf.add(tf.matMul(features, this.w1), this.b1));
      return l2Normalize(tf.add(tf.matMul(hidden, this.w2), this.b2) as tf.Tensor2D, 1e-12);
    });
  }

  /** Overwrites the weights (layout `[in, out]`), e.g. to load a checkpoint or a PyTorch fixture (transpose it). */
  assign(weights: { w1: tf.Tensor; b1: tf.Tensor; w2: tf.Tensor; b2: tf.Tensor }): void {
    const pairs: [tf.Variable, tf.Tensor, string][] = [
      [this.w1, weights.w1, 'w1'],
      [this.b1, weights.b1, 'b1'],
      [this.w2, weights.w2, 'w2'],
      [this.b2, weights.b2, 'b2'],
    ];
    for (const [v, t, name] of pairs) {
      if (v.shape.join() !== t.shape.join()) {
        throw new ShapeError(`Contrastive head ${name}: expected shape [${v.shape}], got [${t.shape}].`, { name });
      }
    }
    for (const [v, t] of pairs) v.assign(t);
  }

  /** Number of parameters (D·H + H + H·P + P). */
  parameterCount(): number {
    return this.inputDim * this.hiddenDim + this.hiddenDim + this.hiddenDim * this.outputDim + this.outputDim;
  }

  trainableVariables(): tf.Variable[] {
    return [this.w1, this.b1, this.w2, this.b2];
  }

  dispose(): void {
    for (const v of this.trainableVariables()) v.dispose();
  }
}
