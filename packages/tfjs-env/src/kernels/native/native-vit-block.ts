import type * as tf from '@tensorflow/tfjs';
import { VIT_BLOCK_GRAD_KERNEL, VIT_BLOCK_KERNEL, VIT_BLOCK_TRAIN_KERNEL } from '@promptkd/core';
import type { KernelArgs, WasmBackend } from '../wasm-backend.js';
import { floatOffset, heapOf, type NativeKernelsAddon } from './heap.js';
import { addonFunction, type NativeKernel } from './native-util.js';

type AddonFn = (heap: Float32Array, ...sizesOffsetsAndEps: number[]) => void;
type Inputs = Record<string, tf.TensorInfo | undefined>;

/** The weights and prefixes in the addon's order; a name not given is absent (offset −1). */
const OPERANDS = [
  'ln1Gamma', 'ln1Beta', 'qkvWeight', 'qkvBias', 'projWeight', 'projBias', 'ln2Gamma', 'ln2Beta',
  'fc1Weight', 'fc1Bias', 'fc2Weight', 'fc2Bias', 'prependKey', 'prependValue', 'appendKey', 'appendValue',
] as const;
const PREFIXES = ['prependKey', 'prependValue', 'appendKey', 'appendValue'] as const;

/** `[N, L, D, H, F, Lpre, Lapp, Lk]` of a call. */
function sizes(inputs: Inputs, attrs: tf.NamedAttrMap | undefined): number[] {
  const [n, l, d] = (inputs.x as tf.TensorInfo).shape as [number, number, number];
  const lpre = (inputs.prependKey?.shape[1] as number | undefined) ?? 0;
  const lapp = (inputs.appendKey?.shape[1] as number | undefined) ?? 0;
  return [n, l, d, attrs?.heads as number, (inputs.fc1Weight as tf.TensorInfo).shape[1] as number, lpre, lapp, lpre + l + lapp];
}

const offsetOf = (be: WasmBackend) => (t: tf.TensorInfo | undefined) => (t ? floatOffset(be, t) : -1);

/** The forward; with `keep`, also the tensors its gradient needs (`[y, qkv, p, h, u]`). */
const vitBlock = (keep: boolean) => (addon: NativeKernelsAddon): NativeKernel | undefined => {
  const run = addonFunction<AddonFn>(addon, 'vitBlock');
  if (!run || (keep && !addonFunction(addon, 'vitBlockGrad'))) return undefined;
  return (args: KernelArgs) => {
    const inputs = args.inputs as Inputs;
    const be = args.backend;
    const [n, l, d, h, f, lpre, lapp, lk] = sizes(inputs, args.attrs) as [number, number, number, number, number, number, number, number];
    const y = be.makeOutput([n, l, d], 'float32');
    const kept = keep ? [be.makeOutput([n, l, 3 * d], 'float32'), be.makeOutput([n, h, l, lk], 'float32'), be.makeOutput([n, l, d], 'float32'), be.makeOutput([n, l, f], 'float32')] : [];
    const off = offsetOf(be);
    run(
      heapOf(args), n, l, d, h, f,
      lpre, (inputs.prependKey?.shape[0] as number | undefined) ?? 1, lapp, (inputs.appendKey?.shape[0] as number | undefined) ?? 1,
      off(inputs.x), ...OPERANDS.map((name) => off(inputs[name])), off(y),
      ...(keep ? kept.map(off) : [-1, -1, -1, -1]),
      args.attrs?.eps as number,
    );
    return keep ? [y, ...kept] : y;
  };
};

const vitBlockGrad = (addon: NativeKernelsAddon): NativeKernel | undefined => {
  const run = addonFunction<AddonFn>(addon, 'vitBlockGrad');
  if (!run) return undefined;
  return (args: KernelArgs) => {
    const inputs = args.inputs as Inputs;
    const be = args.backend;
    const [n, l, d, h, f, lpre, lapp] = sizes(inputs, args.attrs) as [number, number, number, number, number, number, number];
    const dx = be.makeOutput([n, l, d], 'float32');
    const given = PREFIXES.filter((name) => inputs[name]);
    // fusedVitBlock tiles prefixes given once for the batch before the forward that keeps what this gradient reads
    if (given.some((name) => (inputs[name] as tf.TensorInfo).shape[0] !== n)) throw new Error(`promptkd: ${VIT_BLOCK_GRAD_KERNEL} needs prefixes of batch ${n}`);
    const dPrefix = Object.fromEntries(given.map((name) => [name, be.makeOutput((inputs[name] as tf.TensorInfo).shape, 'float32')]));
    const off = offsetOf(be);
    run(
      heapOf(args), n, l, d, h, f, lpre, lapp,
      off(inputs.dy), off(inputs.x), ...OPERANDS.map((name) => off(inputs[name])),
      off(inputs.qkv), off(inputs.p), off(inputs.h), off(inputs.u),
      off(dx), ...PREFIXES.map((name) => off(dPrefix[name])),
      args.attrs?.eps as number,
    );
    return [dx, ...given.map((name) => dPrefix[name] as tf.TensorInfo)];
  };
};

/**
 * `@promptkd/core`'s whole-block ViT kernels — the forward alone, the forward that keeps what its gradient needs, and
 * that gradient (wrt the input and the prefix tokens) — added to the wasm backend with the native addon
 * (`fusedVitBlock()` uses them when the active backend registers them).
 */
export const VIT_BLOCK_KERNELS: ReadonlyMap<string, (addon: NativeKernelsAddon) => NativeKernel | undefined> = new Map([
  [VIT_BLOCK_KERNEL, vitBlock(false)],
  [VIT_BLOCK_TRAIN_KERNEL, vitBlock(true)],
  [VIT_BLOCK_GRAD_KERNEL, vitBlockGrad],
]);
