import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';
import { initBackend } from '@promptkd/tfjs-env';
import { MODELS } from './models.js';
await initBackend({ backend: 'wasm' });
const name = process.argv[2] ?? 'small-cnn';
const m = MODELS[name]!();
const opt = m.makeOptimizer();
const step = () => { const l = opt.minimize(() => tf.losses.softmaxCrossEntropy(m.y, m.forward(m.x)) as tf.Scalar, true, m.vars); l?.dataSync(); l?.dispose(); };
step();
const t0 = performance.now();
const prof = await tf.profile(step);
const total = performance.now() - t0;
const agg = new Map<string, { ms: number; n: number }>();
for (const k of prof.kernels) {
  const key = k.name;
  const e = agg.get(key) ?? { ms: 0, n: 0 };
  e.ms += (k.kernelTimeMs as number) ?? 0; e.n++;
  agg.set(key, e);
}
const rows = [...agg.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 18);
let sum = 0; for (const [, e] of agg) sum += e.ms;
console.log(`${name}: wall ${total.toFixed(0)} ms, kernels ${sum.toFixed(0)} ms`);
for (const [k, e] of rows) console.log(k.padEnd(28), e.ms.toFixed(1).padStart(9), String(e.n).padStart(5));
