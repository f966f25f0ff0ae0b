import * as tf from '@tensorflow/tfjs';
import { CheckpointError } from './errors.js';
import type { Resumable } from './train-callbacks.js';

/** JSON part of an optimizer's saved state. */
export interface OptimizerState {
  /** `optimizer.getClassName()` (`Adam`, `Momentum`, ...). */
  readonly className: string;
  /** Steps taken (drives Adam's bias correction). */
  readonly iterations: number;
  /** Slot names `<variable>/<slot>` in the optimizer's order (`w/m`, `b/m`, `w/v`, `b/v` for Adam). */
  readonly slots: readonly string[];
}

function splitSlot(name: string): [string, string] {
  const i = name.lastIndexOf('/');
  return i < 0 ? [name, ''] : [name.slice(0, i), name.slice(i + 1)];
}

/**
 * A tfjs optimizer (core's fused {@link adam}/{@link momentum} or tfjs's own) as a {@link Resumable}. Slots are
 * stored under the variables' logical names (`<name>/m`, `<name>/v`, `<name>/momentum`), so a state restores into
 * a new process whose engine variable names differ. tfjs keeps slots by position in the gradient list, so
 * `variables` must list the trained variables in the order gradients are applied.
 *
 * @param variables the trained variables by logical name, in gradient order (called at export and import).
 */
export function resumableOptimizer(optimizer: tf.Optimizer, variables: () => ReadonlyArray<readonly [string, tf.Variable]>): Resumable<OptimizerState> {
  return {
    async exportState() {
      const logical = new Map(variables().map(([n, v]) => [v.name, n]));
      const weights = await optimizer.getWeights();
      const [iter, ...slots] = weights;
      const iterations = iter ? ((await iter.tensor.data())[0] as number) : 0;
      iter?.tensor.dispose();
      const tensors: Record<string, tf.Tensor> = {};
      const names: string[] = [];
      for (const w of slots) {
        const [v, slot] = splitSlot(w.name);
        const name = `${logical.get(v) ?? v}/${slot}`;
        tensors[name] = w.tensor.clone();
        names.push(name);
      }
      return { tensors, state: { className: optimizer.getClassName(), iterations, slots: names } };
    },
    async importState(saved) {
      const { className, iterations, slots } = saved.state;
      if (className !== optimizer.getClassName()) {
        throw new CheckpointError(`The saved optimizer state is ${className}'s, this optimizer is a ${optimizer.getClassName()}. Resume with the optimizer the run was started with.`, {
          expected: className,
          actual: optimizer.getClassName(),
        });
      }
      const vars = variables();
      // Slot kinds in the saved order (Adam: all m, then all v), each in the current gradient order.
      const kinds = [...new Set(slots.map((s) => splitSlot(s)[1]))];
      const order = kinds.flatMap((kind) => vars.map(([n, v]) => ({ saved: `${n}/${kind}`, engine: `${v.name}/${kind}` })));
      if (slots.length > 0 && order.length !== slots.length) {
        throw new CheckpointError(`The saved optimizer state has ${slots.length} slots; ${vars.length} variables × ${kinds.length} slot kinds need ${order.length}.`, {
          slots: slots.length,
        });
      }
      for (const o of order) {
        if (!saved.tensors[o.saved]) throw new CheckpointError(`The saved optimizer state lacks slot '${o.saved}'.`, { slot: o.saved });
      }
      const old = await optimizer.getWeights();
      const iter = tf.scalar(iterations, 'int32');
      try {
        await optimizer.setWeights([{ name: 'iter', tensor: iter }, ...order.map((o) => ({ name: o.engine, tensor: saved.tensors[o.saved] as tf.Tensor }))]);
      } finally {
        iter.dispose();
      }
      // setWeights made new slot variables; the old ones (and getWeights' fresh iteration scalar) are unreferenced.
      tf.dispose(old.map((w) => w.tensor));
    },
  };
}
