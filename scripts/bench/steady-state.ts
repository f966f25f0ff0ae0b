/**
 * Dev aid: steady-state time of one bench workload's training step, alone in its process (no PyTorch alternating).
 * `node --conditions=@promptkd/source --import tsx scripts/bench/steady-state.ts kdp-cpu-student [steps=60] [warmup=5] [runs=1]`
 * With `runs` > 1 it prints each run's time per step (`runs` runs of `steps` steps): how the step settles after warm-up.
 * Environment knobs it is meant for: PROMPTKD_ONE_THREAD_MACS, PROMPTKD_NATIVE_THREADS, PROMPTKD_NATIVE_ENGINE.
 */
import { initBackend } from '@promptkd/tfjs-env';
import { MODELS, type BenchModel } from './models.js';

await initBackend({ backend: 'wasm', native: 'auto' });
const name = process.argv[2] ?? 'kdp-cpu-student';
const steps = Number(process.argv[3] ?? 60);
const warmup = Number(process.argv[4] ?? 5);
const make = MODELS[name];
if (!make) throw new Error(`unknown workload '${name}'; one of: ${Object.keys(MODELS).join(', ')}`);
const m = (make as () => BenchModel)();
const session = m.start();
const step = (): void => {
  const l = session.step();
  l.dataSync();
  l.dispose();
};
for (let i = 0; i < warmup; i++) step();
const perRun: string[] = [];
for (let r = 0; r < Number(process.argv[5] ?? 1); r++) {
  const t0 = performance.now();
  for (let i = 0; i < steps; i++) step();
  perRun.push(((performance.now() - t0) / steps).toFixed(1));
}
console.log(`${name}: ${perRun.join(', ')} ms/step over ${perRun.length > 1 ? `${perRun.length} runs of ` : ''}${steps} steps after ${warmup}`);
session.dispose();
m.dispose();
