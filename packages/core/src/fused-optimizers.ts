import * as tf from '@tensorflow/tfjs';
import { adamUpdate } from './adam-update.js';
import { momentumUpdate } from './momentum-update.js';

/** A slot as tfjs optimizers keep it (`name/m`, `name/v`, `name/momentum`), so getWeights/setWeights stay tfjs's. */
interface Slot {
  originalName: string;
  variable: tf.Variable;
}

type Gradients = tf.NamedTensorMap | Array<{ name: string; tensor: tf.Tensor }>;

function namesOf(grads: Gradients): string[] {
  return Array.isArray(grads) ? grads.map((g) => g.name) : Object.keys(grads);
}

function gradientOf(grads: Gradients, name: string, i: number): tf.Tensor | undefined {
  return (Array.isArray(grads) ? grads[i]?.tensor : grads[name]) ?? undefined;
}

function slot(slots: Slot[], i: number, name: string, suffix: string): tf.Variable {
  slots[i] ??= { originalName: `${name}/${suffix}`, variable: tf.tidy(() => tf.zerosLike(tf.engine().registeredVariables[name] as tf.Variable).variable(false)) };
  return slots[i].variable;
}

/** What {@link FusedAdamOptimizer} reads of tfjs's AdamOptimizer (private there; same fields at run time). */
interface AdamState {
  accumulatedFirstMoment: Slot[];
  accumulatedSecondMoment: Slot[];
}

/**
 * `tf.AdamOptimizer` whose update runs one fused kernel per variable ({@link adamUpdate}) instead of 14
 * element-wise kernels. Everything else — slots and their names, `getWeights`/`setWeights`, `iterations`,
 * serialization as `Adam` — is tfjs's, so checkpoints move freely between the two.
 */
export class FusedAdamOptimizer extends tf.AdamOptimizer {
  /** Sets α for the next steps (per-epoch schedules; tfjs's Adam has no setter). */
  setLearningRate(learningRate: number): void {
    this.learningRate = learningRate;
  }

  override applyGradients(variableGradients: Gradients): void {
    const s = this as unknown as AdamState;
    const names = namesOf(variableGradients);
    // Bias corrections 1 − β^t of step t = iterations + 1, from the step count (which getWeights/setWeights keep)
    // rather than read back from tfjs's β^t variables: no device read per step.
    const t = this.iterations + 1;
    const c1 = 1 - this.beta1 ** t;
    const c2 = 1 - this.beta2 ** t;
    const attrs = { stepSize: this.learningRate / c1, beta1: this.beta1, beta2: this.beta2, sqrtC2: Math.sqrt(c2), epsilon: this.epsilon };
    tf.tidy(() => {
      names.forEach((name, i) => {
        const m = slot(s.accumulatedFirstMoment, i, name, 'm');
        const v = slot(s.accumulatedSecondMoment, i, name, 'v');
        const g = gradientOf(variableGradients, name, i);
        if (!g) return;
        const x = tf.engine().registeredVariables[name] as tf.Variable;
        const [x1, m1, v1] = adamUpdate(x, g, m, v, attrs);
        m.assign(m1);
        v.assign(v1);
        x.assign(x1);
      });
    });
    this.incrementIterations();
  }
}

/** What {@link FusedMomentumOptimizer} reads of tfjs's MomentumOptimizer (private there). */
interface MomentumState {
  momentum: number;
  useNesterov: boolean;
  accumulations: Slot[];
}

/**
 * `tf.MomentumOptimizer` (PyTorch's SGD with momentum, dampening 0) whose update runs one fused kernel per
 * variable ({@link momentumUpdate}) instead of 5. Slots, weights, `setLearningRate`/`setMomentum` and
 * serialization are tfjs's.
 */
export class FusedMomentumOptimizer extends tf.MomentumOptimizer {
  override applyGradients(variableGradients: Gradients): void {
    const s = this as unknown as MomentumState;
    const attrs = { learningRate: this.learningRate, momentum: s.momentum, nesterov: s.useNesterov };
    namesOf(variableGradients).forEach((name, i) => {
      const b = slot(s.accumulations, i, name, 'momentum');
      const g = gradientOf(variableGradients, name, i);
      if (!g) return;
      const x = tf.engine().registeredVariables[name] as tf.Variable;
      tf.tidy(() => {
        const [x1, b1] = momentumUpdate(x, g, b, attrs);
        b.assign(b1);
        x.assign(x1);
      });
    });
    this.incrementIterations();
  }

  /** Frees the slots and, unlike tfjs 4.22's `MomentumOptimizer`, also the learning-rate scalar it inherits. */
  override dispose(): void {
    super.dispose();
    if (this.c && !this.c.isDisposed) this.c.dispose();
  }
}

/**
 * Adam as `tf.train.adam(learningRate, beta1, beta2, epsilon)`, with the fused update. Defaults are tfjs's
 * (α = 0.001, β₁ = 0.9, β₂ = 0.999, ε = the backend's epsilon); pass ε = 1e-8 for PyTorch's.
 */
export function adam(learningRate = 0.001, beta1 = 0.9, beta2 = 0.999, epsilon?: number): FusedAdamOptimizer {
  return new FusedAdamOptimizer(learningRate, beta1, beta2, epsilon);
}

/** SGD with momentum as `tf.train.momentum(learningRate, momentum, useNesterov)`, with the fused update. */
export function momentum(learningRate: number, momentumValue: number, useNesterov = false): FusedMomentumOptimizer {
  return new FusedMomentumOptimizer(learningRate, momentumValue, useNesterov);
}

/**
 * Plain SGD (PyTorch's `torch.optim.SGD` with momentum 0): x′ = x − η·g, two element-wise kernels and no slots,
 * so no fused kernel is needed. tfjs's `SGDOptimizer`, exported here so every loop takes its optimizer from core.
 */
export function sgd(learningRate: number): tf.SGDOptimizer {
  return new tf.SGDOptimizer(learningRate);
}
