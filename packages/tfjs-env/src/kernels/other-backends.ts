import * as tf from '@tensorflow/tfjs';
import { cpuResizeBilinearGrad } from './cpu-resize-bilinear-grad.js';

/** A fix of a stock kernel: wraps it (the stock function is kept for unregistering). */
interface KernelFix {
  readonly name: string;
  readonly wrap: (stock: tf.KernelFunc) => tf.KernelFunc;
}

/**
 * Training kernels promptkd adds or fixes per backend other than wasm (wasm: {@link registerWasmTrainingKernels}).
 * WebGPU and WebGL 4.22 need none for the model zoo, the KD losses, CMI and CODA-P: the browser equality test runs
 * their gradients there and compares them with the cpu backend.
 */
const FIXES: Readonly<Record<string, readonly KernelFix[]>> = {
  cpu: [{ name: tf.ResizeBilinearGrad, wrap: cpuResizeBilinearGrad }],
  webgl: [],
  webgpu: [],
};

const FIXED = Symbol.for('promptkd.fixedKernel');

/**
 * Registers the fixes for `backend` (`cpu`, `webgl`, `webgpu`) and returns their kernel names. Idempotent; the
 * browser `initBackend` calls it for the backend it picks, the Node one for cpu.
 */
export function registerTrainingKernelsFor(backend: string): string[] {
  const names: string[] = [];
  for (const fix of FIXES[backend] ?? []) {
    const cfg = tf.getKernel(fix.name, backend);
    if (!cfg) continue;
    if (!(cfg.kernelFunc as unknown as Record<symbol, unknown>)[FIXED]) {
      const wrapped = Object.assign(fix.wrap(cfg.kernelFunc), { [FIXED]: true });
      tf.unregisterKernel(fix.name, backend);
      tf.registerKernel({ ...cfg, kernelFunc: wrapped });
    }
    names.push(fix.name);
  }
  return names;
}
