/**
 * Kernel micro-benchmarks: promptkd's wasm training kernels against the stock wasm kernels (or, where wasm has
 * none, the cpu backend's kernel on a smaller batch), and the native kernels (`@promptkd/native-kernels`) when
 * they load. The caller sets which kernels are registered before each phase.
 */
import * as tf from '@tensorflow/tfjs';
import { median, timeIt } from './timing.js';

export interface MicroCase {
  readonly name: string;
  readonly kernel: string;
  /** Builds inputs for batch `n` (the cpu baseline uses a smaller n). */
  build(n: number): { inputs: Record<string, tf.Tensor>; attrs: object; flops: number };
  readonly batch: number;
  /** Batch for the cpu baseline (cpu is ~1000× slower on these kernels). */
  readonly cpuBatch?: number;
  /** Compare against the stock wasm kernel (when wasm has one). */
  readonly stockWasm: boolean;
}

export interface MicroResult {
  name: string;
  kernel: string;
  patchedMs: number;
  patchedGflops: number;
  baseline: 'stock-wasm' | 'cpu' | 'none';
  baselineMs?: number;
  baselineGflops?: number;
  baselineBatch?: number;
  speedup?: number;
  /** The same case with the native kernels registered (when the addon loads). */
  nativeMs?: number;
  nativeGflops?: number;
}

function convCase(name: string, kernel: 'Conv2DBackpropFilter' | 'Conv2DBackpropInput', hw: number, ci: number, co: number, k: number, s: number, batch: number, cpuBatch: number): MicroCase {
  return {
    name,
    kernel,
    batch,
    cpuBatch,
    stockWasm: kernel === 'Conv2DBackpropInput',
    build(n): { inputs: Record<string, tf.Tensor>; attrs: object; flops: number } {
      const x = tf.randomNormal([n, hw, hw, ci], 0, 1, 'float32', 1);
      const w = tf.randomNormal([k, k, ci, co], 0, 1, 'float32', 2);
      const ho = Math.ceil(hw / s);
      const dy = tf.randomNormal([n, ho, ho, co], 0, 1, 'float32', 3);
      const flops = 2 * n * ho * ho * co * k * k * ci;
      const common = { strides: s, pad: 'same', dataFormat: 'NHWC' };
      return kernel === 'Conv2DBackpropFilter'
        ? { inputs: { x, dy }, attrs: { ...common, filterShape: [k, k, ci, co] }, flops }
        : { inputs: { dy, filter: w }, attrs: { ...common, inputShape: [n, hw, hw, ci] }, flops };
    },
  };
}

function mmCase(name: string, sa: number[], sb: number[], ta: boolean, tb: boolean): MicroCase {
  return {
    name,
    kernel: 'BatchMatMul',
    batch: 1,
    stockWasm: true,
    build() {
      const a = tf.randomNormal(sa, 0, 1, 'float32', 4);
      const b = tf.randomNormal(sb, 0, 1, 'float32', 5);
      const m = sa[sa.length - (ta ? 1 : 2)] as number;
      const k = sa[sa.length - (ta ? 2 : 1)] as number;
      const n = sb[sb.length - (tb ? 2 : 1)] as number;
      const batch = sa.slice(0, -2).reduce((p, q) => p * q, 1);
      return { inputs: { a, b }, attrs: { transposeA: ta, transposeB: tb }, flops: 2 * batch * m * n * k };
    },
  };
}

export const MICRO_CASES: MicroCase[] = [
  convCase('dW 3x3 s1 64->64 @32² B32', 'Conv2DBackpropFilter', 32, 64, 64, 3, 1, 32, 1),
  convCase('dW 3x3 s2 128->256 @16² B32', 'Conv2DBackpropFilter', 16, 128, 256, 3, 2, 32, 1),
  convCase('dW 1x1 s2 128->256 @16² B32', 'Conv2DBackpropFilter', 16, 128, 256, 1, 2, 32, 1),
  convCase('dW 3x3 s1 3->32 @32² B64', 'Conv2DBackpropFilter', 32, 3, 32, 3, 1, 64, 2),
  convCase('dx 3x3 s1 64->64 @32² B32', 'Conv2DBackpropInput', 32, 64, 64, 3, 1, 32, 1),
  convCase('dx 3x3 s2 128->256 @16² B32', 'Conv2DBackpropInput', 16, 128, 256, 3, 2, 32, 1),
  convCase('dx 1x1 s2 128->256 @16² B32', 'Conv2DBackpropInput', 16, 128, 256, 1, 2, 32, 1),
  mmCase('mm [2080,192]x[192,768]', [2080, 192], [192, 768], false, false),
  mmCase('mm transposeA [2080,192]ᵀ·[2080,768] (dW)', [2080, 192], [2080, 768], true, false),
  mmCase('mm transposeB [2080,768]·[192,768]ᵀ (dx)', [2080, 768], [192, 768], false, true),
  mmCase('bmm attention q·kᵀ [96,65,64]', [96, 65, 64], [96, 65, 64], false, true),
  mmCase('bmm attention att·v [96,65,65]x[96,65,64]', [96, 65, 65], [96, 65, 64], false, false),
  mmCase('bmm grad attᵀ·dy [96,65,65]ᵀx[96,65,64]', [96, 65, 65], [96, 65, 64], true, false),
  mmCase('bmm small [512,16,16]x[512,16,16]', [512, 16, 16], [512, 16, 16], false, false),
  mmCase('bmm tiny [1024,8,8]x[1024,8,8]', [1024, 8, 8], [1024, 8, 8], false, false),
];

function timeKernel(c: MicroCase, n: number, runs: number): { ms: number; flops: number } {
  const { inputs, attrs, flops } = c.build(n);
  const once = (): void => {
    // wasm and cpu kernels are synchronous; no dataSync (reading 8 MB back costs ~100 ms on a loaded machine).
    const out = tf.engine().runKernel(c.kernel, inputs as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor;
    out.dispose();
  };
  const ms = median(timeIt(once, runs, 1));
  tf.dispose(Object.values(inputs));
  return { ms, flops };
}

/** Runs the patched side now; `stockPhase` re-runs the stock-wasm cases after the caller unregistered. */
export function runMicroPatched(runs: number): MicroResult[] {
  return MICRO_CASES.map((c) => {
    const { ms, flops } = timeKernel(c, c.batch, runs);
    return {
      name: c.name,
      kernel: c.kernel,
      patchedMs: ms,
      patchedGflops: flops / ms / 1e6,
      baseline: c.stockWasm ? 'stock-wasm' : c.cpuBatch ? 'cpu' : 'none',
    };
  });
}

export function runMicroStock(results: MicroResult[], runs: number): void {
  for (const [i, c] of MICRO_CASES.entries()) {
    const r = results[i] as MicroResult;
    if (!c.stockWasm) continue;
    const { ms, flops } = timeKernel(c, c.batch, Math.max(1, Math.min(runs, 3)));
    Object.assign(r, { baselineMs: ms, baselineGflops: flops / ms / 1e6, baselineBatch: c.batch, speedup: ms / r.patchedMs });
  }
}

export async function runMicroCpu(results: MicroResult[]): Promise<void> {
  const prev = tf.getBackend();
  await tf.setBackend('cpu');
  try {
    for (const [i, c] of MICRO_CASES.entries()) {
      const r = results[i] as MicroResult;
      if (c.stockWasm || !c.cpuBatch) continue;
      const { ms, flops } = timeKernel(c, c.cpuBatch, 1);
      const gflops = flops / ms / 1e6;
      Object.assign(r, { baselineMs: ms, baselineGflops: gflops, baselineBatch: c.cpuBatch, speedup: r.patchedGflops / gflops });
    }
  } finally {
    await tf.setBackend(prev);
  }
}

/** Re-runs every case with the native kernels registered (the caller registers them first). */
export function runMicroNative(results: MicroResult[], runs: number): void {
  for (const [i, c] of MICRO_CASES.entries()) {
    const r = results[i] as MicroResult;
    const { ms, flops } = timeKernel(c, c.batch, runs);
    Object.assign(r, { nativeMs: ms, nativeGflops: flops / ms / 1e6 });
  }
}
