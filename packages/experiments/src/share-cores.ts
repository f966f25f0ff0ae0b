import { availableParallelism } from 'node:os';

/**
 * Splits the machine's cores among `jobs` cell processes that will inherit `env`: sets `PROMPTKD_NATIVE_THREADS`
 * and `PROMPTKD_WASM_THREADS` to ⌊cores / jobs⌋ (at least 1) unless the user set them, so that concurrent cells do
 * not oversubscribe the cores with native-kernel or XNNPACK threads. A single job that gets every core keeps
 * `PROMPTKD_WASM_THREADS=auto` (every core for XNNPACK, or 1 when the native kernels run: see `initBackend`).
 * Returns the native thread count each job gets.
 */
export function shareCoresAmongJobs(jobs: number, env: NodeJS.ProcessEnv = process.env): number {
  const cores = availableParallelism();
  const perJob = Math.max(1, Math.floor(cores / Math.max(1, jobs)));
  env.PROMPTKD_NATIVE_THREADS ??= String(perJob);
  if (env.PROMPTKD_WASM_THREADS === undefined || env.PROMPTKD_WASM_THREADS === 'auto') env.PROMPTKD_WASM_THREADS = perJob === cores ? 'auto' : String(perJob);
  return Number(env.PROMPTKD_NATIVE_THREADS);
}
