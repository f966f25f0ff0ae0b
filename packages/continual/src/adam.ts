import * as tf from '@tensorflow/tfjs';
import { adamUpdate } from '@promptkd/core';

/** Options of {@link Adam}. PyTorch defaults (the reference: lr 1e-3, betas (0.9, 0.999), eps 1e-8, wd 0). */
export interface AdamOptions {
  readonly lr: number;
  readonly beta1?: number;
  readonly beta2?: number;
  readonly eps?: number;
}

/**
 * Adam with PyTorch's update rule and a settable learning rate (the per-epoch CODA schedule needs it):
 * m ← β1·m + (1−β1)·g, v ← β2·v + (1−β2)·g², θ ← θ − lr·m̂ / (√v̂ + ε). Moment slots are created lazily per
 * variable and freed by {@link Adam.dispose}. A variable whose gradient is missing is left untouched.
 */
export class Adam {
  lr: number;
  private readonly beta1: number;
  private readonly beta2: number;
  private readonly eps: number;
  private step = 0;
  private readonly slots = new Map<tf.Variable, { m: tf.Variable; v: tf.Variable }>();

  constructor(options: AdamOptions) {
    this.lr = options.lr;
    this.beta1 = options.beta1 ?? 0.9;
    this.beta2 = options.beta2 ?? 0.999;
    this.eps = options.eps ?? 1e-8;
  }

  /** Number of updates applied. */
  get iterations(): number {
    return this.step;
  }

  /** Applies one update. `grads` maps variables (by identity, in `vars` order) to gradients. */
  apply(vars: readonly tf.Variable[], grads: readonly (tf.Tensor | undefined)[]): void {
    this.step += 1;
    const { beta1: b1, beta2: b2, eps } = this;
    const c1 = 1 - b1 ** this.step;
    const c2 = 1 - b2 ** this.step;
    const stepSize = this.lr / c1;
    vars.forEach((variable, i) => {
      const g = grads[i];
      if (!g) return;
      let slot = this.slots.get(variable);
      if (!slot) {
        slot = tf.tidy(() => ({ m: tf.variable(tf.zerosLike(variable), false), v: tf.variable(tf.zerosLike(variable), false) }));
        this.slots.set(variable, slot);
      }
      const s = slot;
      tf.tidy(() => {
        const [x, m, v] = adamUpdate(variable, g, s.m, s.v, { stepSize, beta1: b1, beta2: b2, sqrtC2: Math.sqrt(c2), epsilon: eps });
        s.m.assign(m);
        s.v.assign(v);
        variable.assign(x);
      });
    });
  }

  dispose(): void {
    for (const { m, v } of this.slots.values()) {
      m.dispose();
      v.dispose();
    }
    this.slots.clear();
  }
}
