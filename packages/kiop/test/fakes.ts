import * as tf from '@tensorflow/tfjs';
import type { ApplyOptions, ClassifierModel, ModelOutput, Rng, Synthesizer, SynthesisStep } from '@promptkd/core';

/**
 * A tiny ClassifierModel for wiring tests: per-channel global average pool + spatial-std features (tap `features`) → linear head.
 * Accepts any input size (like the hosts KiOP uses). Head = `fc.weight` [2C, K], `fc.bias` [K].
 */
export class TinyClassifier implements ClassifierModel {
  readonly inputChannels = 3;
  readonly normalization = undefined;
  readonly headNames = ['fc.weight', 'fc.bias'] as const;
  private readonly vars = new Map<string, tf.Variable>();
  private trainable = true;

  constructor(
    readonly name: string,
    readonly numClasses: number,
    seed: number,
  ) {
    // in a tidy: the initial values are freed, only the variables stay
    tf.tidy(() => {
      this.vars.set('proj.weight', tf.variable(tf.randomNormal([3, 3], 0, 1, 'float32', seed), true));
      this.vars.set('fc.weight', tf.variable(tf.randomNormal([6, numClasses], 0, 2, 'float32', seed + 1), true));
      this.vars.set('fc.bias', tf.variable(tf.zeros([numClasses]), true));
    });
  }

  apply(x: tf.Tensor4D, options: ApplyOptions = {}): ModelOutput {
    const [logits, features] = tf.tidy(() => {
      const [n, h, w] = x.shape;
      const flat = tf.reshape(x, [n * h * w, 3]);
      const mixed = tf.reshape(tf.tanh(tf.matMul(flat, this.vars.get('proj.weight')!)), [n, h * w, 3]);
      const mean = tf.mean(mixed, 1);
      const std = tf.sqrt(tf.add(tf.mean(tf.square(tf.sub(mixed, tf.expandDims(mean, 1))), 1), 1e-6));
      const feat = tf.concat([mean, std], 1) as tf.Tensor2D;
      return [tf.add(tf.matMul(feat, this.vars.get('fc.weight')!), this.vars.get('fc.bias')!) as tf.Tensor2D, feat] as const;
    });
    if (options.taps?.includes('features')) return { logits, taps: { features } };
    features.dispose();
    return { logits, taps: {} };
  }

  namedVariables(): ReadonlyMap<string, tf.Variable> {
    return this.vars;
  }

  trainableVariables(): tf.Variable[] {
    return this.trainable ? [...this.vars.values()] : [];
  }

  setTrainable(trainable: boolean): void {
    this.trainable = trainable;
  }

  dispose(): void {
    tf.dispose([...this.vars.values()]);
  }
}

/** A synthesizer whose bank holds seeded uniform noise; counts its rounds. */
export class NoiseSynthesizer implements Synthesizer {
  readonly key = 'noise';
  rounds = 0;
  constructor(private readonly size = 32) {}

  async synthesize(): Promise<SynthesisStep> {
    this.rounds++;
    return { losses: { total: 1 / this.rounds }, bankSize: this.rounds * 4 };
  }

  sample(n: number, rng?: Rng): tf.Tensor4D {
    return tf.randomUniform([n, this.size, this.size, 3], 0, 1, 'float32', rng?.seed() ?? 1);
  }

  draw(n: number, rng: Rng): tf.Tensor4D {
    return this.sample(n, rng);
  }

  /** Resumable: the round counter (what its reports depend on). */
  async exportState() {
    return { tensors: {}, state: { rounds: this.rounds } };
  }

  async importState(saved: { state: unknown }) {
    this.rounds = (saved.state as { rounds: number }).rounds;
  }

  dispose(): void {}
}

/** A fixed evaluation set of `count` random images with labels in [0, k). */
export function randomEvalSet(count: number, k: number, seed: number) {
  return function* () {
    yield {
      x: tf.randomUniform([count, 32, 32, 3], 0, 1, 'float32', seed) as tf.Tensor4D,
      y: tf.tensor1d(Array.from({ length: count }, (_, i) => i % k), 'int32'),
    };
  };
}
