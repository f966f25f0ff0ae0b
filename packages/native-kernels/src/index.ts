/**
 * Optional native float32 kernels for promptkd's TensorFlow.js wasm backend. The addon (native/kernels.c) runs
 * GEMMs (oneDNN, OpenBLAS or its built-in SGEMM) and convolutions (oneDNN or im2col/col2im) directly on the wasm
 * heap — no tensor is copied — on as many threads as asked. `@promptkd/tfjs-env` loads it when present
 * (`initBackend({ native: 'auto' })`) and registers it as the wasm backend's `BatchMatMul` and `Conv2D` kernels and
 * their gradients, among others.
 *
 * The package's install script builds it with the machine's C/C++ compiler (`npx promptkd-build-native` does the
 * same by hand); OpenBLAS and oneDNN are used when their headers are installed.
 */
import { BackendError } from '@promptkd/core';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
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
   * What runs GEMMs and convolutions: `'onednn'` (oneDNN — the library PyTorch's CPU convolutions use — when the
   * addon was built with `libdnnl-dev`), `'openblas'` (OpenBLAS SGEMM and im2col convolutions, when built with
   * `libopenblas-dev`) or `'builtin'` (the addon's own SGEMM and im2col convolutions, always built). The default is
   * the first of these the build has. Also set by `PROMPTKD_NATIVE_ENGINE` when the addon loads.
   */
  setEngine(engine: 'onednn' | 'openblas' | 'builtin' | (string & {})): void;
  /** The engine in use: `'oneDNN x.y.z'`, `'OpenBLAS'` or `'built-in SGEMM (AVX-512|AVX2|SIMD-128)'`. */
  engine(): string;
  /** The {@link NativeAddon.setEngine} names this build has, the default first. */
  engines(): string[];
  /** The element-wise, reduction and layout kernels of native/elementwise.c, by name. */
  readonly [kernel: string]: unknown;
}

/** Where `npx promptkd-build-native` puts the addon. */
export function defaultAddonPath(): string {
  // src/ and dist/ both sit one level below the package root.
  return join(dirname(fileURLToPath(import.meta.url)), '..', 'native', 'build', 'Release', 'promptkd_native.node');
}

/** What the last build attempt reported (`native/build/status.json`): why it was not built and the fix, or what was. */
export interface NativeBuildStatus {
  readonly built: boolean;
  /** Why it was not built, e.g. `no C/C++ compiler found`. */
  readonly reason?: string;
  /** The command(s) that fix it. */
  readonly fix?: string;
  /** The one line the build printed. */
  readonly line: string;
  /** The addon file it built. */
  readonly file?: string;
  /** The {@link NativeAddon.setEngine} names the build has, the default first. */
  readonly engines?: readonly string[];
}

/** The last build attempt's report, or undefined when the build never ran here (e.g. install scripts were skipped). */
export function nativeBuildStatus(): NativeBuildStatus | undefined {
  try {
    return JSON.parse(readFileSync(join(dirname(defaultAddonPath()), '..', 'status.json'), 'utf8')) as NativeBuildStatus;
  } catch {
    return undefined;
  }
}

/**
 * The `OMP_WAIT_POLICY` the addon's OpenMP threads get when `engine` runs the GEMMs and convolutions. `PASSIVE` (a
 * worker sleeps as soon as a parallel region ends) with OpenBLAS, whose own threads run between the OpenMP regions:
 * OpenMP workers spinning beside them made a ViT step 2× slower. Undefined — libgomp's default, a short spin before
 * sleeping, so the next call finds its workers awake — with oneDNN and the built-in engine, whose parallel calls all
 * share the one OpenMP pool: against `PASSIVE` a ViT step 10 % faster, the KiOP demo synthesis iteration 9 % faster on
 * the built-in engine, a ResNet-18 forward of one image ~20 % faster (scripts/bench/README.md, "OpenMP wait
 * policy"). Any other engine name (unknown, a custom addon) keeps `PASSIVE`.
 */
export function ompWaitPolicyFor(engine: string | undefined): 'PASSIVE' | undefined {
  return engine === 'onednn' || engine === 'builtin' ? undefined : 'PASSIVE';
}

/** The engine the addon in `file` starts with: `PROMPTKD_NATIVE_ENGINE`, else the default of the build that made `file`. */
function startingEngine(file: string): string | undefined {
  if (process.env.PROMPTKD_NATIVE_ENGINE) return process.env.PROMPTKD_NATIVE_ENGINE;
  const status = nativeBuildStatus();
  return status?.built && status.file !== undefined && resolve(status.file) === resolve(file) ? status.engines?.[0] : undefined;
}

/**
 * Loads the addon from `path` (default: `PROMPTKD_NATIVE_ADDON`, else {@link defaultAddonPath}).
 * @throws BackendError when the file is missing (with the command that builds it) or fails to load.
 */
export function loadNativeAddon(path?: string): NativeAddon {
  const file = path ?? process.env.PROMPTKD_NATIVE_ADDON ?? defaultAddonPath();
  if (!existsSync(file)) {
    const status = path === undefined && process.env.PROMPTKD_NATIVE_ADDON === undefined ? nativeBuildStatus() : undefined;
    const why = status && !status.built && status.reason ? `${status.reason}; fix: ${status.fix}` : 'not built: run `npx promptkd-build-native` (needs a C/C++ compiler)';
    throw new BackendError(`promptkd native kernels are not available (${why}); until then the wasm kernels are used.`, { file, status });
  }
  // libgomp reads this when the addon loads.
  if (process.env.OMP_WAIT_POLICY === undefined) {
    const policy = ompWaitPolicyFor(startingEngine(file));
    if (policy) process.env.OMP_WAIT_POLICY = policy;
  }
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
