/**
 * Memory-lean backpropagation for TensorFlow.js 4.22: `engine.gradients` (behind `tf.grad`, `tf.variableGrads`,
 * `optimizer.minimize`) with the same results and two kinds of memory released early.
 *
 * tfjs keeps every tensor a kernel saved for its gradient, and every intermediate gradient, until the whole
 * backward pass ends, so a step peaks at about (activations + all their gradients). Here
 * - the saved tensors of the kernels that are not on a path from the sources to the loss (frozen teachers,
 *   targets computed under the tape) are released before the backward pass starts, and
 * - once a kernel's input gradients are computed, its saved tensors and the gradients of its outputs are released
 *   (nothing later reads them: kernels are visited in reverse order of execution),
 * so the backward pass holds the activations not yet visited plus the gradients in flight. Tensors the caller
 * passed in (`dy`) or that are still referenced by another gradient entry (a gradient function that returns its
 * `dy`, or a saved tensor, as is) are kept. Higher-order gradients (a gradient computed inside another) take tfjs's
 * own path, since the outer tape still needs the saved tensors.
 *
 * It also makes saving cheaper: tfjs saves each tensor a kernel's gradient needs by running an `Identity` kernel and
 * recording it on the tape (so that a gradient of a gradient can flow through the saved copy). For a first-order
 * gradient the copy only needs the data, so here it is a new handle on the same data — no kernel, no tape node
 * (a KDP student step saved 673 tensors this way).
 *
 * The tape filtering and the backward walk follow tfjs-core's `tape.ts` and `engine.ts` (Apache-2.0, Google LLC).
 */
import * as tf from '@tensorflow/tfjs';

interface TapeNode {
  id: number;
  kernelName: string;
  inputs: Record<string, tf.Tensor>;
  outputs: tf.Tensor[];
  saved?: tf.Tensor[];
  gradient?: (dys: tf.Tensor[]) => Record<string, () => tf.Tensor>;
}

interface EngineInternals {
  state: { activeTape: TapeNode[] | null; gradientDepth: number; tensorInfo: WeakMap<tf.DataId, { backend: tf.KernelBackend }> };
  saveTensorsForBackwardMode(tensors: tf.Tensor[]): tf.Tensor[];
  keep<T extends tf.Tensor>(t: T): T;
  makeTensorFromDataId(dataId: tf.DataId, shape: number[], dtype: tf.DataType, backend?: tf.KernelBackend): tf.Tensor;
  scopedRun<T>(start: () => void, end: () => void, f: () => T): T;
  startTape(): void;
  endTape(): void;
  tidy<T extends tf.TensorContainer>(nameOrFn: string | (() => T), fn?: () => T): T;
  gradients<T extends tf.Tensor>(f: () => T, xs: tf.Tensor[], dy?: T, allowNoGradients?: boolean): { value: T; grads: tf.Tensor[] };
}

/** tfjs-core `getFilteredNodesXToY`: the nodes on a path from `xs` to `y`, inputs pruned to those that depend on `xs`. */
function filteredNodesXToY(tape: readonly TapeNode[], xs: readonly tf.Tensor[], y: tf.Tensor): TapeNode[] {
  const fromX = new Set<number>(xs.map((x) => x.id));
  const nodesFromX = new Set<number>();
  for (const node of tape) {
    for (const name in node.inputs) {
      if (fromX.has((node.inputs[name] as tf.Tensor).id)) {
        for (const o of node.outputs) fromX.add(o.id);
        nodesFromX.add(node.id);
        break;
      }
    }
  }
  const leadToY = new Set<number>([y.id]);
  const nodesToY = new Set<number>();
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i] as TapeNode;
    if (node.outputs.some((o) => leadToY.has(o.id))) {
      for (const name in node.inputs) leadToY.add((node.inputs[name] as tf.Tensor).id);
      nodesToY.add(node.id);
    }
  }
  const out: TapeNode[] = [];
  for (const node of tape) {
    if (!nodesFromX.has(node.id) || !nodesToY.has(node.id)) continue;
    const inputs: Record<string, tf.Tensor> = {};
    for (const name in node.inputs) {
      const input = node.inputs[name] as tf.Tensor;
      if (fromX.has(input.id)) inputs[name] = input;
    }
    out.push({ ...node, inputs, outputs: node.outputs });
  }
  return out;
}

/** Gradient entries by tensor id, with a count of how many entries hold each tensor object (aliases). */
class GradientMap {
  private readonly byId = new Map<number, tf.Tensor>();
  private readonly holders = new Map<tf.Tensor, number>();

  get(id: number): tf.Tensor | undefined {
    return this.byId.get(id);
  }

  set(id: number, t: tf.Tensor): void {
    const old = this.byId.get(id);
    if (old) this.release(old);
    this.byId.set(id, t);
    this.holders.set(t, (this.holders.get(t) ?? 0) + 1);
  }

  /** Removes entry `id`; returns its tensor when no other entry holds it. */
  take(id: number): tf.Tensor | undefined {
    const t = this.byId.get(id);
    if (!t) return undefined;
    this.byId.delete(id);
    return this.release(t) ? t : undefined;
  }

  holds(t: tf.Tensor): boolean {
    return this.holders.has(t);
  }

  private release(t: tf.Tensor): boolean {
    const n = (this.holders.get(t) ?? 1) - 1;
    if (n > 0) {
      this.holders.set(t, n);
      return false;
    }
    this.holders.delete(t);
    return true;
  }
}

function disposeSaved(node: TapeNode, keep: GradientMap): void {
  for (const t of node.saved ?? []) if (!keep.holds(t)) t.dispose();
}

/** tfjs-core `backpropagateGradients`, releasing saved tensors and consumed gradients as it goes. */
function backpropagate(map: GradientMap, tape: readonly TapeNode[], tidy: (f: () => tf.Tensor) => tf.Tensor, userDy: tf.Tensor | undefined): void {
  for (let i = tape.length - 1; i >= 0; i--) {
    const node = tape[i] as TapeNode;
    const dys = node.outputs.map((o) => map.get(o.id) ?? null) as tf.Tensor[];
    if (!node.gradient) throw new Error(`Cannot compute gradient: gradient function not found for ${node.kernelName}.`);
    const inputGradients = node.gradient(dys);
    for (const name in node.inputs) {
      if (!(name in inputGradients)) {
        throw new Error(`Cannot backprop through input ${name}. Available gradients found: ${Object.keys(inputGradients)}.`);
      }
      const dx = tidy(() => (inputGradients[name] as () => tf.Tensor)());
      if (dx.dtype !== 'float32') {
        throw new Error(`Error in gradient for op ${node.kernelName}. The gradient of input ${name} must have 'float32' dtype, but has '${dx.dtype}'`);
      }
      const x = node.inputs[name] as tf.Tensor;
      if (!tf.util.arraysEqual(dx.shape, x.shape)) {
        throw new Error(
          `Error in gradient for op ${node.kernelName}. The gradient of input '${name}' has shape '${dx.shape}', which does not match the shape of the input '${x.shape}'`,
        );
      }
      const cur = map.get(x.id);
      if (cur === undefined) {
        map.set(x.id, dx);
      } else {
        map.set(x.id, tf.add(cur, dx));
        if (!map.holds(cur) && cur !== userDy) cur.dispose();
      }
    }
    // This node's outputs get no more gradient and its saved tensors are not read again.
    for (const o of node.outputs) {
      const g = map.take(o.id);
      if (g && g !== userDy) g.dispose();
    }
    disposeSaved(node, map);
  }
}

let stock: EngineInternals['gradients'] | undefined;
let stockSave: EngineInternals['saveTensorsForBackwardMode'] | undefined;

/** A new tensor handle on `t`'s data (one more reference; no kernel, no tape node). */
function share(engine: EngineInternals, t: tf.Tensor): tf.Tensor {
  const backend = engine.state.tensorInfo.get(t.dataId)?.backend ?? tf.backend();
  backend.incRef(t.dataId);
  return engine.makeTensorFromDataId(t.dataId, t.shape, t.dtype, backend);
}

/**
 * Replaces the tfjs engine's `gradients` with the memory-lean version (module doc). Idempotent; returns false when
 * this tfjs build does not expose the engine internals it needs (nothing is changed then).
 */
export function installLeanGradients(): boolean {
  const engine = tf.engine() as unknown as EngineInternals;
  if (stock) return true;
  if (typeof engine.scopedRun !== 'function' || typeof engine.startTape !== 'function' || !engine.state || !('gradientDepth' in engine.state)) {
    return false;
  }
  const original = engine.gradients;
  stock = original;
  const originalSave = engine.saveTensorsForBackwardMode;
  if (typeof originalSave === 'function' && typeof engine.makeTensorFromDataId === 'function' && typeof engine.state.tensorInfo?.get === 'function') {
    stockSave = originalSave;
    engine.saveTensorsForBackwardMode = function leanSave(this: EngineInternals, tensors: tf.Tensor[]) {
      // Depth 1: the forward pass of a first-order gradient; deeper tapes need the recorded clone.
      if (this.state.gradientDepth !== 1) return originalSave.call(this, tensors);
      return tensors.map((t) => this.keep(share(this, t)));
    };
  }
  engine.gradients = function leanGradients<T extends tf.Tensor>(this: EngineInternals, f: () => T, xs: tf.Tensor[], dy?: T, allowNoGradients = false) {
    // Inside another gradient (higher order): the outer tape needs every saved tensor.
    if (this.state.gradientDepth > 0) return original.call(this, f, xs, dy, allowNoGradients) as { value: T; grads: tf.Tensor[] };
    tf.util.assert(xs.length > 0, () => 'gradients() received an empty list of xs.');
    if (dy != null && dy.dtype !== 'float32') throw new Error(`dy must have 'float32' dtype, but has '${dy.dtype}'`);
    const y = this.scopedRun(
      () => this.startTape(),
      () => this.endTape(),
      () => this.tidy('forward', f),
    );
    tf.util.assert(y instanceof tf.Tensor, () => 'The result y returned by f() must be a tensor.');
    const tape = this.state.activeTape as TapeNode[];
    const filtered = filteredNodesXToY(tape, xs, y);
    if (!allowNoGradients && filtered.length === 0 && xs.length > 0) {
      throw new Error('Cannot compute gradient of y=f(x) with respect to x. Make sure that the f you passed encloses all operations that lead from x to y.');
    }
    // Kernels off every x → y path never run backwards: release what they saved now.
    const onPath = new Set(filtered.map((n) => n.id));
    const none = new GradientMap();
    for (const node of tape) if (!onPath.has(node.id)) disposeSaved(node, none);
    return this.tidy('backward', () => {
      const map = new GradientMap();
      map.set(y.id, dy ?? tf.ones(y.shape));
      backpropagate(map, filtered, (fn) => this.tidy(fn), dy ?? undefined);
      const grads = xs.map((x) => map.get(x.id)) as tf.Tensor[];
      for (const node of tape) for (const t of node.saved ?? []) t.dispose();
      this.state.activeTape = null;
      return { value: y, grads } as unknown as tf.TensorContainer;
    }) as unknown as { value: T; grads: tf.Tensor[] };
  } as EngineInternals['gradients'];
  return true;
}

/** Puts tfjs's own `gradients` back. */
export function uninstallLeanGradients(): void {
  if (!stock) return;
  const engine = tf.engine() as unknown as EngineInternals;
  engine.gradients = stock;
  stock = undefined;
  if (stockSave) engine.saveTensorsForBackwardMode = stockSave;
  stockSave = undefined;
}

/** Whether {@link installLeanGradients} is in effect. */
export function leanGradientsInstalled(): boolean {
  return stock !== undefined;
}
