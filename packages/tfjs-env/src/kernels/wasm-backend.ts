import * as tf from '@tensorflow/tfjs';

/**
 * The parts of `BackendWasm` (tfjs-backend-wasm 4.22) the training kernels use. The class is not exported with
 * these members typed, so we describe them here. `dataIdMap`/`wasm` are internals: only the batched-matmul
 * fast path ({@link ./batch-mat-mul.ts}) touches them, and it checks they exist before relying on them.
 */
export interface WasmBackend extends tf.KernelBackend {
  makeOutput(shape: readonly number[], dtype: tf.DataType, memoryOffset?: number, values?: tf.backend_util.BackendValues): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array | Uint8Array;
  readSync(dataId: tf.DataId): tf.backend_util.BackendValues;
  disposeData(dataId: tf.DataId, force?: boolean): boolean;
  incRef(dataId: tf.DataId): void;
  dataIdNextNumber?: number;
  dataIdMap?: { get(dataId: tf.DataId): { id: number; memoryOffset: number } | undefined };
  wasm?: {
    cwrap(name: string, ret: null, args: string[]): (...a: unknown[]) => void;
    tfjs?: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
  };
}

/** What `kernelFunc` receives; `inputs` keyed by the kernel's input names. */
export interface KernelArgs {
  readonly inputs: tf.NamedTensorInfoMap;
  readonly backend: WasmBackend;
  readonly attrs?: tf.NamedAttrMap;
}

/** A 4-element explicit padding as tfjs conv kernels accept it. */
export type ExplicitPadding = [[number, number], [number, number], [number, number], [number, number]];

/** Runs another wasm kernel directly (no engine bookkeeping); the caller owns (and must dispose) the result. */
export function runWasm(
  name: string,
  inputs: tf.NamedTensorInfoMap,
  backend: WasmBackend,
  attrs: Record<string, unknown> = {},
): tf.TensorInfo {
  const cfg = tf.getKernel(name, 'wasm');
  if (!cfg) throw new Error(`promptkd: wasm kernel '${name}' is not registered (is @tensorflow/tfjs-backend-wasm loaded?)`);
  const out = cfg.kernelFunc({ inputs, backend, attrs: attrs as tf.NamedAttrMap });
  if (Array.isArray(out)) throw new Error(`promptkd: wasm kernel '${name}' returned several outputs`);
  return out as tf.TensorInfo;
}

/** Frees intermediates created with {@link runWasm}. `undefined` entries and kernel inputs are skipped. */
export function free(backend: WasmBackend, ...infos: Array<tf.TensorInfo | undefined>): void {
  for (const t of infos) if (t) backend.disposeData(t.dataId);
}

/** `Reshape` as the wasm backend does it: same data, one more reference. */
export function reshape(backend: WasmBackend, x: tf.TensorInfo, shape: number[]): tf.TensorInfo {
  return runWasm('Reshape', { x }, backend, { shape });
}

export function transpose(backend: WasmBackend, x: tf.TensorInfo, perm: number[]): tf.TensorInfo {
  return runWasm('Transpose', { x }, backend, { perm });
}

/** Parses `strides`/`dilations` attrs (`number | [number, number]`, default 1). */
export function pair(v: unknown, fallback = 1): [number, number] {
  if (v === undefined || v === null) return [fallback, fallback];
  if (typeof v === 'number') return [v, v];
  const a = v as number[];
  return [a[0] ?? fallback, a[1] ?? a[0] ?? fallback];
}

/**
 * Runs `Conv2D` (or `DepthwiseConv2dNative`) with per-side paddings that may be NEGATIVE: negative sides are
 * cropped from `x` with `Slice` first, positive ones go to the kernel as explicit padding (no `PadV2` copy).
 */
export function convWithPads(
  backend: WasmBackend,
  kernel: 'Conv2D' | 'DepthwiseConv2dNative',
  x: tf.TensorInfo,
  filter: tf.TensorInfo,
  pads: { top: number; bottom: number; left: number; right: number },
  strides: [number, number],
  dilations: [number, number],
): tf.TensorInfo {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const cropTop = Math.max(0, -pads.top);
  const cropBottom = Math.max(0, -pads.bottom);
  const cropLeft = Math.max(0, -pads.left);
  const cropRight = Math.max(0, -pads.right);
  let input = x;
  let cropped: tf.TensorInfo | undefined;
  if (cropTop + cropBottom + cropLeft + cropRight > 0) {
    cropped = runWasm('Slice', { x }, backend, {
      begin: [0, cropTop, cropLeft, 0],
      size: [n, h - cropTop - cropBottom, w - cropLeft - cropRight, c],
    });
    input = cropped;
  }
  const pad: ExplicitPadding = [
    [0, 0],
    [Math.max(0, pads.top), Math.max(0, pads.bottom)],
    [Math.max(0, pads.left), Math.max(0, pads.right)],
    [0, 0],
  ];
  const out = runWasm(kernel, { x: input, filter }, backend, {
    strides,
    dilations,
    pad,
    dataFormat: 'NHWC',
  });
  free(backend, cropped);
  return out;
}

/**
 * Inserts `s-1` zeros after every row/column of an NHWC tensor ("dilates" dy for a strided transposed conv).
 * The result has `H·sh × W·sw` pixels: the last `sh-1` rows / `sw-1` columns are zeros too.
 */
export function dilateSpatial(backend: WasmBackend, x: tf.TensorInfo, s: [number, number]): tf.TensorInfo {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const [sh, sw] = s;
  if (sh === 1 && sw === 1) {
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }
  const r6 = reshape(backend, x, [n, h, 1, w, 1, c]);
  const padded = runWasm('PadV2', { x: r6 }, backend, {
    paddings: [[0, 0], [0, 0], [0, sh - 1], [0, 0], [0, sw - 1], [0, 0]],
    constantValue: 0,
  });
  free(backend, r6);
  const out = reshape(backend, padded, [n, h * sh, w * sw, c]);
  free(backend, padded);
  return out;
}

/** Pads (positive) or crops (negative) the two spatial axes of an NHWC tensor. */
export function padOrCropSpatial(
  backend: WasmBackend,
  x: tf.TensorInfo,
  pads: { top: number; bottom: number; left: number; right: number },
): tf.TensorInfo {
  const [n, h, w, c] = x.shape as [number, number, number, number];
  const ct = Math.max(0, -pads.top);
  const cb = Math.max(0, -pads.bottom);
  const cl = Math.max(0, -pads.left);
  const cr = Math.max(0, -pads.right);
  let cur = x;
  let cropped: tf.TensorInfo | undefined;
  if (ct + cb + cl + cr > 0) {
    cropped = runWasm('Slice', { x }, backend, { begin: [0, ct, cl, 0], size: [n, h - ct - cb, w - cl - cr, c] });
    cur = cropped;
  }
  const pt = Math.max(0, pads.top);
  const pb = Math.max(0, pads.bottom);
  const pl = Math.max(0, pads.left);
  const pr = Math.max(0, pads.right);
  if (pt + pb + pl + pr === 0) {
    if (cropped) return cropped;
    backend.incRef(x.dataId);
    return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
  }
  const out = runWasm('PadV2', { x: cur }, backend, {
    paddings: [[0, 0], [pt, pb], [pl, pr], [0, 0]],
    constantValue: 0,
  });
  free(backend, cropped);
  return out;
}

/** Marks a kernelFunc as promptkd's, so registration can stay idempotent across module copies. */
export const PROMPTKD_KERNEL = Symbol.for('promptkd.wasmKernel');

/** Copies inputs to the cpu backend, runs its kernel and copies the outputs back (slow; correctness only). */
export function runOnCpu(
  name: string,
  inputs: tf.NamedTensorInfoMap,
  backend: WasmBackend,
  attrs: tf.NamedAttrMap | undefined,
): tf.TensorInfo | tf.TensorInfo[] {
  const cpu = tf.findBackend('cpu') as (tf.KernelBackend & { write: WasmBackend['write']; disposeData(d: tf.DataId): boolean }) | null;
  const cfg = tf.getKernel(name, 'cpu');
  if (!cpu || !cfg) {
    throw new Error(`promptkd: no cpu kernel '${name}' to fall back to from wasm (is @tensorflow/tfjs-backend-cpu registered?)`);
  }
  // Inputs are a name→tensor map, or an array for variadic kernels such as Einsum: keep the container kind.
  const cpuInputs = (Array.isArray(inputs) ? [] : {}) as Record<string, tf.TensorInfo>;
  const written: tf.DataId[] = [];
  for (const [key, t] of Object.entries(inputs)) {
    if (!t) continue;
    const dataId = cpu.write(backend.readSync(t.dataId), t.shape, t.dtype);
    written.push(dataId);
    cpuInputs[key] = { dataId, shape: t.shape, dtype: t.dtype };
  }
  try {
    const res = cfg.kernelFunc({ inputs: cpuInputs as tf.NamedTensorInfoMap, backend: cpu, attrs: attrs ?? {} });
    const list = Array.isArray(res) ? res : [res as tf.TensorInfo];
    const outs = list.map((o) => {
      const vals = cpu.readSync(o.dataId) as tf.backend_util.BackendValues;
      const w = backend.makeOutput(o.shape, o.dtype, undefined, vals);
      cpu.disposeData(o.dataId);
      return w;
    });
    return Array.isArray(res) ? outs : (outs[0] as tf.TensorInfo);
  } finally {
    for (const d of written) cpu.disposeData(d);
  }
}

type Cwrapped = (...a: unknown[]) => void;
const cwrapCache = new WeakMap<object, Cwrapped>();

/**
 * The raw wasm `BatchMatMul(aId, aShape, 3, bId, bShape, 3, transA, transB, outId)` entry point, if this build of
 * the backend exposes what zero-copy views need (`wasm.cwrap`, `wasm.tfjs.registerTensor`, `dataIdMap`).
 * With both operands of batch 1 and no flags it runs XNNPACK's fully-connected operator.
 */
export function rawBatchMatMul(backend: WasmBackend): Cwrapped | undefined {
  const wasm = backend.wasm;
  if (!wasm?.tfjs || typeof wasm.cwrap !== 'function' || !backend.dataIdMap || backend.dataIdNextNumber === undefined) {
    return undefined;
  }
  let fn = cwrapCache.get(backend);
  if (!fn) {
    fn = wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']);
    cwrapCache.set(backend, fn);
  }
  return fn;
}

/** Byte offset of a tensor's data in the wasm heap (requires {@link rawBatchMatMul} to be available). */
export function heapOffset(backend: WasmBackend, t: tf.TensorInfo): number {
  const entry = backend.dataIdMap?.get(t.dataId);
  if (!entry) throw new Error('promptkd: tensor is not on the wasm backend');
  return entry.memoryOffset;
}

/**
 * Registers a zero-copy C++ tensor id for `size` floats at heap byte `offset` (a view into another tensor's
 * memory) and returns it with its release function. Views are never freed with `_free`, only unregistered.
 */
export function heapView(backend: WasmBackend, size: number, offset: number): { id: number; release(): void } {
  const tfjs = (backend.wasm as NonNullable<WasmBackend['wasm']>).tfjs as NonNullable<NonNullable<WasmBackend['wasm']>['tfjs']>;
  const id = backend.dataIdNextNumber as number;
  backend.dataIdNextNumber = id + 1;
  tfjs.registerTensor(id, size, offset);
  return { id, release: () => tfjs.disposeData(id) };
}

/** The C++ tensor id of a wasm tensor. */
export function tensorId(backend: WasmBackend, t: tf.TensorInfo): number {
  const entry = backend.dataIdMap?.get(t.dataId);
  if (!entry) throw new Error('promptkd: tensor is not on the wasm backend');
  return entry.id;
}

/** Shape argument for the raw `BatchMatMul` ('array' of int32 bytes). */
export function shapeBytes(shape: number[]): Uint8Array {
  return new Uint8Array(new Int32Array(shape).buffer);
}
