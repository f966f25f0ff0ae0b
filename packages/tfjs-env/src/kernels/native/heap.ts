import type * as tf from '@tensorflow/tfjs';
import type { KernelArgs, WasmBackend } from '../wasm-backend.js';

/** What `@promptkd/native-kernels` exports (see its `NativeAddon`); described here so tfjs-env needs no dependency on it. */
export interface NativeKernelsAddon {
  gemm(
    heap: Float32Array,
    batch: number,
    m: number,
    n: number,
    k: number,
    transposeA: boolean,
    transposeB: boolean,
    aOffsets: Int32Array,
    bOffsets: Int32Array,
    cOffsets: Int32Array,
  ): void;
  conv2d(heap: Float32Array, ...geometryAndOffsets: number[]): void;
  conv2dBackpropInput(heap: Float32Array, ...geometryAndOffsets: number[]): void;
  conv2dBackpropFilter(heap: Float32Array, ...geometryAndOffsets: number[]): void;
  setThreads(n: number): void;
  getThreads(): number;
  /** Element-wise, reduction and layout kernels (native/elementwise.c), keyed by function name. */
  readonly [name: string]: unknown;
}

/** Builds a native kernel from the addon and the wasm kernel it replaces (its fallback for uncovered cases). */
export type NativeKernelFactory = (
  addon: NativeKernelsAddon,
  fallback: tf.KernelFunc,
) => (args: KernelArgs) => tf.TensorInfo | tf.TensorInfo[];

type HeapBackend = WasmBackend & { wasm?: { HEAPU8?: Uint8Array } };
let cached: Float32Array | undefined;

/**
 * The wasm heap as a Float32Array. Call it after every allocation (`makeOutput`): memory growth replaces the
 * buffer. Returns undefined when this build of the backend does not expose what native kernels need.
 */
export function heapF32(backend: WasmBackend): Float32Array | undefined {
  const buf = (backend as HeapBackend).wasm?.HEAPU8?.buffer;
  if (!buf || !backend.dataIdMap) return undefined;
  if (cached?.buffer !== buf) cached = new Float32Array(buf);
  return cached;
}

/** Offset of a tensor's data in the heap, in floats. */
export function floatOffset(backend: WasmBackend, t: tf.TensorInfo): number {
  const entry = backend.dataIdMap?.get(t.dataId);
  if (!entry) throw new Error('promptkd: tensor is not on the wasm backend');
  return entry.memoryOffset / 4;
}

/** The heap of a kernel call's backend, or an error saying the backend does not expose it (kernels that have no fallback). */
export function heapOf(args: KernelArgs): Float32Array {
  const heap = heapF32(args.backend);
  if (!heap) throw new Error('promptkd: the wasm backend does not expose its heap; the fused kernels need it');
  return heap;
}
