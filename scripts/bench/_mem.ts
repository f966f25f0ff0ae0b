/** Dev aid: tensor peak, heap and time of one step. `node --conditions=@promptkd/source --import tsx scripts/bench/_mem.ts kiop-paper-prompt 32 [microBatch] [stock]` */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@promptkd/tfjs-env';
import { MODELS } from './models.js';
import { WasmAllocations, peakRssMiB, wasmHeapMiB } from './memory.js';

await initBackend({ backend: 'wasm', native: 'auto', leanGradients: process.argv[5] !== 'stock' });
const [name, b, mb] = [process.argv[2] ?? 'kiop-paper-prompt', Number(process.argv[3] ?? 32), Number(process.argv[4] ?? 0)];
const meter = WasmAllocations.install();
const m = MODELS[name]!({ batch: b, ...(mb ? { microBatch: mb } : {}) });
const s = m.start();
const step = (): void => {
  const l = s.step();
  l.dataSync();
  l.dispose();
};
let t0 = performance.now();
step();
const first = performance.now() - t0;
t0 = performance.now();
step();
const second = performance.now() - t0;
meter?.reset();
step();
const prof = await tf.profile(step);
console.log(`${name} batch ${b} micro ${mb || '-'} ${process.argv[5] ?? 'lean'}: steps ${first.toFixed(0)} / ${second.toFixed(0)} ms, tensor data peak ${meter?.peakMiB().toFixed(0)} MiB, heap ${wasmHeapMiB()?.toFixed(0)} MiB, RSS peak ${peakRssMiB().toFixed(0)} MiB, ${prof.kernels.length} kernels`);
