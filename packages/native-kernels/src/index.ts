/**
 * Optional native float32 kernels for promptkd's TensorFlow.js wasm backend. The addon (native/kernels.c) runs
 * OpenBLAS GEMM and im2col/col2im convolutions directly on the wasm heap — no tensor is copied — on as many threads
 * as asked. `@promptkd/tfjs-env` loads it when present (`initBackend({ native: 'auto' })`) and registers it as the
 * wasm backend's `BatchMatMul` and `Conv2D` kernels and their gradients.
 *
 * Build it once with `npx promptkd-build-native` (needs a C compiler and `libopenblas-dev`).
 */
import { BackendError } from '@promptkd/core';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The functions the addon exports. `heap` is the wasm memory as a Float32Array; every offset is in floats.
 * Convolutions are NHWC with filters `[kh, kw, ci, co]`; geometry arguments are, in order,
 * `n, h, w, ci, co, kh, kw, strideH, strideW, dilationH, dilationW, padTop, padLeft, outH, outW`.
 */
export interface NativeAddon {
  /** `C[i] = op(A[i]) · op(B[i])` for each batch entry i, row-major, offsets per entry. */
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
  /** `y = conv(x, w)`; offsets of x, w, y. */
  conv2d(heap: Float32Array, ...geometryAndOffsets: number[]): void;
  /** `dx = ∂L/∂x` from dy and w; offsets of dx, w, dy. */
  conv2dBackpropInput(heap: Float32Array, ...geometryAndOffsets: number[]): void;
  /** `dw = ∂L/∂w` from x and dy; offsets of x, dw, dy. */
  conv2dBackpropFilter(heap: Float32Array, ...geometryAndOffsets: number[]): void;
  /** Threads for OpenBLAS and the im2col loops. */
  setThreads(n: number): void;
  getThreads(): number;
  /** im2col chunk size in floats (≤ 0: the default, 1 Mi floats). Small values make small shapes take every code path (tests). */
  setConvChunk(floats: number): void;
  /**
   * What runs GEMMs and convolutions: `'onednn'` (default when the addon was built with oneDNN — the library
   * PyTorch's CPU convolutions use) or `'openblas'` (OpenBLAS SGEMM and im2col convolutions, always built). Also
   * set by `PROMPTKD_NATIVE_ENGINE` when the addon loads.
   */
  setEngine(engine: 'onednn' | 'openblas' | (string & {})): void;
  /** The engine in use: `'oneDNN x.y.z'` or `'OpenBLAS'`. */
  engine(): string;
  /** The element-wise, reduction and layout kernels of native/elementwise.c, by name. */
  readonly [kernel: string]: unknown;
}

/** Where `npx promptkd-build-native` puts the addon. */
export function defaultAddonPath(): string {
  // src/ and dist/ both sit one level below the package root.
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'native', 'build', 'Release', 'promptkd_native.node');
}

/**
 * Loads the addon from `path` (default: `PROMPTKD_NATIVE_ADDON`, else {@link defaultAddonPath}).
 * @throws BackendError when the file is missing (with the command that builds it) or fails to load.
 */
export function loadNativeAddon(path?: string): NativeAddon {
  const file = path ?? process.env.PROMPTKD_NATIVE_ADDON ?? defaultAddonPath();
  if (!existsSync(file)) {
    throw new BackendError(
      `promptkd native kernels are not built (${file} is missing). Build them with \`npx promptkd-build-native\` ` +
        '(needs a C compiler and OpenBLAS: apt-get install build-essential libopenblas-dev); until then the wasm kernels are used.',
      { file },
    );
  }
  // OpenMP threads of the im2col loops must not spin while OpenBLAS or wasm work: libgomp reads this at load.
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  // OpenBLAS 0.3.21 (Debian 12) does not know AVX-512 AMD cores and picks its AVX2 kernels there; its
  // SkylakeX kernels run about 1.9x faster on them (measured: 1024³ SGEMM, 138 → 258 GFLOP/s per thread).
  const coreType = openBlasCoreType();
  if (coreType && process.env.OPENBLAS_CORETYPE === undefined) process.env.OPENBLAS_CORETYPE = coreType;
  let addon: NativeAddon;
  try {
    addon = createRequire(import.meta.url)(file) as NativeAddon;
  } catch (err) {
    throw new BackendError(`promptkd native kernels failed to load from ${file}: ${(err as Error).message}`, { file }, { cause: err });
  }
  const engine = process.env.PROMPTKD_NATIVE_ENGINE;
  if (engine) {
    try {
      addon.setEngine(engine);
    } catch (err) {
      throw new BackendError(`PROMPTKD_NATIVE_ENGINE=${engine}: ${(err as Error).message}`, { file }, { cause: err });
    }
  }
  return addon;
}

/** `SKYLAKEX` when the CPU has the AVX-512 subsets OpenBLAS's SkylakeX kernels need (Linux), else undefined. */
export function openBlasCoreType(): string | undefined {
  let info: string;
  try {
    info = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return undefined;
  }
  const flags = new Set(/^flags\s*:(.*)$/m.exec(info)?.[1]?.trim().split(/\s+/) ?? []);
  return ['avx512f', 'avx512bw', 'avx512vl', 'avx512dq', 'avx512cd'].every((f) => flags.has(f)) ? 'SKYLAKEX' : undefined;
}
