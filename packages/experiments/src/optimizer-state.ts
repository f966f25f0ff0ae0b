import * as tf from '@tensorflow/tfjs';
import { CheckpointError } from '@promptkd/core';
import { type RawTensor, rawToTensors, tensorsToRaw } from './safetensors.js';

/** JSON part of an optimizer snapshot (stored in the checkpoint manifest). */
export interface OptimizerSnapshotMeta {
  /** `optimizer.getClassName()`, e.g. `Momentum`, `Adam`, `SGD`. */
  readonly className: string;
  /** The optimizer's step counter (`iterations`), which drives Adam's bias correction. */
  readonly iterations: number;
  /**
   * Slot-variable names in the optimizer's own order, e.g. `layer1.weight/momentum` (SGD momentum) or
   * `w/m`, `v/m`, `w/v`, `v/v` (Adam: all first moments, then all second moments).
   */
  readonly weightNames: readonly string[];
}

/** A complete, engine-independent copy of an optimizer's state. */
export interface OptimizerSnapshot {
  readonly meta: OptimizerSnapshotMeta;
  /** Slot values by weight name (plain typed arrays; no engine tensors are held). */
  readonly weights: Readonly<Record<string, RawTensor>>;
}

/** Variables by a stable (logical) name, e.g. PyTorch state-dict names, in the order gradients are applied. */
export type NamedVariables = ReadonlyMap<string, tf.Variable> | Readonly<Record<string, tf.Variable>>;

const entriesOf = (v: NamedVariables): [string, tf.Variable][] => (v instanceof Map ? [...v.entries()] : Object.entries(v));

/**
 * Copies the state of a tf optimizer (`getWeights()`: iteration count plus slot variables such as
 * SGD-momentum accumulators or Adam's m and v) into plain arrays. Leaves no tensors behind.
 * With `variables`, slots are stored under those logical names (`layer1.weight/momentum`) instead of the
 * engine's variable names, which can differ between processes or model instances.
 */
export async function snapshotOptimizer(optimizer: tf.Optimizer, options: { variables?: NamedVariables } = {}): Promise<OptimizerSnapshot> {
  const rename = new Map<string, string>();
  if (options.variables) for (const [logical, v] of entriesOf(options.variables)) rename.set(v.name, logical);
  const named = await optimizer.getWeights();
  try {
    const [iter, ...slots] = named;
    const iterations = iter ? ((await iter.tensor.data())[0] as number) : 0;
    const byName: Record<string, tf.Tensor> = {};
    const names: string[] = [];
    for (const w of slots) {
      const [v, slot] = splitSlot(w.name);
      const name = rename.has(v) ? `${rename.get(v)}/${slot}` : w.name;
      if (name in byName) throw new CheckpointError(`Optimizer has two slot variables named '${name}'; cannot snapshot it by name.`);
      byName[name] = w.tensor;
      names.push(name);
    }
    const weights = await tensorsToRaw(byName);
    return { meta: { className: optimizer.getClassName(), iterations, weightNames: names }, weights };
  } finally {
    // getWeights() creates a fresh scalar for the iteration count; the slots are the optimizer's own variables.
    if (named[0]) named[0].tensor.dispose();
  }
}

function splitSlot(name: string): [string, string] {
  const i = name.lastIndexOf('/');
  return i < 0 ? [name, ''] : [name.slice(0, i), name.slice(i + 1)];
}

/**
 * Puts the weight names into the order the optimizer will apply gradients in. tfjs optimizers store slots
 * by POSITION in the gradient list, so restoring must use the trainer's variable order; `variableOrder`
 * lists the variable names in that order (e.g. `Object.keys(grads)`); slots are grouped per slot kind
 * (`m`, `v`, `momentum`) as the optimizer expects.
 */
export function orderOptimizerWeights(weightNames: readonly string[], variableOrder: readonly string[]): string[] {
  const groups = new Map<string, Map<string, string>>();
  for (const w of weightNames) {
    const [v, slot] = splitSlot(w);
    let g = groups.get(slot);
    if (!g) groups.set(slot, (g = new Map()));
    g.set(v, w);
  }
  const out: string[] = [];
  for (const [slot, g] of groups) {
    const missing = variableOrder.filter((v) => !g.has(v));
    const extra = [...g.keys()].filter((v) => !variableOrder.includes(v));
    if (missing.length || extra.length) {
      throw new CheckpointError(
        `Optimizer state (slot '${slot}') does not match the variables being trained: ` +
          `${missing.length ? `no state for [${missing.join(', ')}]` : ''}${missing.length && extra.length ? '; ' : ''}` +
          `${extra.length ? `state for unknown variables [${extra.join(', ')}]` : ''}. ` +
          'Resume with the same trainable variables as the run that wrote the checkpoint.',
        { slot, missing, extra },
      );
    }
    for (const v of variableOrder) out.push(g.get(v) as string);
  }
  return out;
}

/** Options of {@link restoreOptimizer}. */
export interface RestoreOptimizerOptions {
  /**
   * The trained variables by the logical names used when saving, in the order the trainer passes
   * gradients to the optimizer (recommended). Slots are matched by name and re-ordered to this order.
   */
  readonly variables?: NamedVariables;
  /**
   * Alternative to `variables`: the saved variable names in gradient order. Default: the order saved
   * (correct when the trainer builds its gradient map the same way on every run).
   */
  readonly variableOrder?: readonly string[];
}

/**
 * Restores a snapshot into `optimizer` (same class and hyper-parameters as the saved one). Any slot
 * variables the optimizer already had are disposed (tfjs' `setWeights` would otherwise leak them).
 * Throws {@link CheckpointError} when the optimizer class or the variable set differ.
 */
export async function restoreOptimizer(
  optimizer: tf.Optimizer,
  snapshot: OptimizerSnapshot,
  options: RestoreOptimizerOptions = {},
): Promise<void> {
  const { meta } = snapshot;
  if (optimizer.getClassName() !== meta.className) {
    throw new CheckpointError(
      `The checkpoint holds ${meta.className} state but the optimizer is a ${optimizer.getClassName()}. ` +
        'Resume with the optimizer the run was started with.',
      { expected: meta.className, actual: optimizer.getClassName() },
    );
  }
  const vars = options.variables ? entriesOf(options.variables) : undefined;
  const logicalOrder = vars ? vars.map(([n]) => n) : options.variableOrder;
  const order = logicalOrder ? orderOptimizerWeights(meta.weightNames, logicalOrder) : [...meta.weightNames];
  // Name the restored slots after the current engine variables, as the optimizer itself would.
  const engineName = new Map(vars?.map(([n, v]) => [n, v.name]));
  const slotName = (w: string): string => {
    const [v, slot] = splitSlot(w);
    return engineName.has(v) ? `${engineName.get(v)}/${slot}` : w;
  };
  for (const n of order) {
    if (!snapshot.weights[n]) throw new CheckpointError(`Optimizer state is missing slot '${n}'.`, { slot: n });
  }
  const old = await optimizer.getWeights();
  const raw: Record<string, RawTensor> = {};
  for (const n of order) raw[n] = snapshot.weights[n] as RawTensor;
  const tensors = rawToTensors(raw);
  const iter = tf.scalar(meta.iterations, 'int32');
  try {
    await optimizer.setWeights([{ name: 'iter', tensor: iter }, ...order.map((n) => ({ name: slotName(n), tensor: tensors[n] as tf.Tensor }))]);
  } finally {
    // setWeights turns each tensor into a variable sharing its data; the tensors themselves are ours to free.
    iter.dispose();
    tf.dispose(Object.values(tensors));
  }
  // The previous slot variables (and the fresh iteration scalar from getWeights) are no longer referenced.
  tf.dispose(old.map((w) => w.tensor));
}
