/**
 * Dev aid: how a workload's step time settles from its first step on — ms per step of each of `runs` runs of `steps`
 * steps in a row, after `warmup` steps (what the bench's warm-up must cover).
 * `node --conditions=@promptkd/source --import tsx scripts/bench/warm-up.ts kdp-cpu-student [runs=9] [steps=14] [warmup=20]`
 */
import { initBackend } from '@promptkd/tfjs-env';
import { MODELS, type BenchModel } from './models.js';

await initBackend({ backend: 'wasm', native: 'auto' });
const [name = 'kdp-cpu-student', runsArg = '9', stepsArg = '14', warmupArg = '20'] = process.argv.slice(2);
const make = MODELS[name];
if (!make) throw new Error(`unknown workload '${name}'; one of: ${Object.keys(MODELS).join(', ')}`);
const m = (make as () => BenchModel)();
const session = m.start();
const step = (): void => {
  const l = session.step();
  l.dataSync();
  l.dispose();
};
for (let i = 0; i < Number(warmupArg); i++) step();
const per: string[] = [];
for (let r = 0; r < Number(runsArg); r++) {
  const t0 = performance.now();
  for (let i = 0; i < Number(stepsArg); i++) step();
  per.push(((performance.now() - t0) / Number(stepsArg)).toFixed(1));
}
console.log(`${name}: ms per step in runs of ${stepsArg} after ${warmupArg} steps: ${per.join(', ')}`);
session.dispose();
m.dispose();
