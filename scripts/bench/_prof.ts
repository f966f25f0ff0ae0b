/** Dev aid: per-kernel time of one training step of a bench workload. `node --conditions=@promptkd/source --import tsx scripts/bench/_prof.ts vit-tiny-p4` */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@promptkd/tfjs-env';
import { MODELS, type BenchModel } from './models.js';

await initBackend({ backend: 'wasm', native: 'auto' });
const name = process.argv[2] ?? 'small-cnn';
const m = (MODELS[name] as () => BenchModel)();
console.log(`${name}: batch ${m.batch}`);
const session = m.start();
const step = (): void => {
  const l = session.step();
  l.dataSync();
  l.dispose();
};
step();
step();
const t0 = performance.now();
step();
const wall = performance.now() - t0;
const prof = await tf.profile(step);
const agg = new Map<string, { ms: number; n: number }>();
for (const k of prof.kernels) {
  const key = process.env.PROF_SHAPES && process.env.PROF_SHAPES.split(",").includes(k.name) ? `${k.name} ${JSON.stringify(k.inputShapes)}` : k.name;
  const e = agg.get(key) ?? { ms: 0, n: 0 };
  e.ms += (k.kernelTimeMs as number) ?? 0;
  e.n++;
  agg.set(key, e);
}
let sum = 0;
for (const [, e] of agg) sum += e.ms;
console.log(`${name}: step ${wall.toFixed(0)} ms unprofiled, kernels ${sum.toFixed(0)} ms`);
for (const [k, e] of [...agg.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, Number(process.argv[3] ?? 22))) {
  console.log(k.padEnd(28), e.ms.toFixed(1).padStart(9), String(e.n).padStart(5));
}
