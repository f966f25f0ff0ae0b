/**
 * Dev aid: what one or more registered kernels are worth inside a training step, measured in one process. Steps
 * alternate between the kernels registered (A) and unregistered (B: the ops fall back to their compositions), so the
 * machine's drift cancels; prints both medians, the median paired difference A − B and how many pairs A won.
 * `node --conditions=@promptkd/source --import tsx scripts/bench/kernel-ab.ts kdp-cpu-student 300 PromptkdAttention,PromptkdAttentionGrad`
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@promptkd/tfjs-env';
import { MODELS, type BenchModel } from './models.js';

await initBackend({ backend: 'wasm', native: 'auto' });
const [name = 'kdp-cpu-student', pairsArg = '200', kernelsArg = 'PromptkdAttention,PromptkdAttentionGrad'] = process.argv.slice(2);
const pairs = Number(pairsArg);
const make = MODELS[name];
if (!make) throw new Error(`unknown workload '${name}'; one of: ${Object.keys(MODELS).join(', ')}`);
const configs = kernelsArg.split(',').map((k) => {
  const c = tf.getKernel(k, 'wasm');
  if (!c) throw new Error(`no wasm kernel '${k}' is registered (are the native kernels built?)`);
  return c;
});
const use = (on: boolean): void => {
  for (const c of configs) {
    const present = tf.getKernel(c.kernelName, 'wasm') !== undefined;
    if (on && !present) tf.registerKernel(c);
    if (!on && present) tf.unregisterKernel(c.kernelName, 'wasm');
  }
};
const m = (make as () => BenchModel)();
const session = m.start();
const step = (): number => {
  const t0 = performance.now();
  const l = session.step();
  l.dataSync();
  l.dispose();
  return performance.now() - t0;
};
for (let i = 0; i < 40; i++) {
  use(i % 2 === 0);
  step();
}
const a: number[] = [];
const b: number[] = [];
for (let i = 0; i < pairs; i++) {
  use(true);
  a.push(step());
  use(false);
  b.push(step());
}
use(true);
const median = (x: number[]): number => [...x].sort((p, q) => p - q)[Math.floor(x.length / 2)] as number;
const diff = a.map((v, i) => v - (b[i] as number));
console.log(
  `${name}, ${kernelsArg}: with ${median(a).toFixed(1)} ms, without ${median(b).toFixed(1)} ms (medians); ` +
    `median paired difference ${median(diff).toFixed(2)} ms; faster with them in ${diff.filter((d) => d < 0).length}/${pairs} pairs`,
);
session.dispose();
m.dispose();
