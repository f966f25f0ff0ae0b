/**
 * A KiOP-B knowledge-storing step of a preset computed whole and over micro-batches, from the same prompt and the
 * same bank draws: the two prompt gradients, their largest difference relative to the largest gradient entry, and
 * each run's time and tensor-data high-water mark on the wasm heap.
 *
 *   node --conditions=@promptkd/source --import tsx scripts/bench/micro-batch-check.ts --preset paper --micro-batch 32
 *
 * The gradient is read as the update of one plain SGD step (lr 1, no momentum, no weight decay): θ − θ' = ∇L.
 * `--host-bn eval` (default) runs the host's BatchNorm on its running statistics, where micro-batches give the whole
 * batch's gradient; `--host-bn batch` (the presets' default, the reference's behaviour) normalises each micro-batch
 * with its own statistics (ghost batch norm), and the check shows how far that moves the gradient.
 */
import * as tf from '@tensorflow/tfjs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { initBackend } from '@promptkd/tfjs-env';
import { knowledgeStoringStep } from '@promptkd/kiop';
import { WasmAllocations, peakRssMiB, wasmHeapMiB } from './memory.js';
import { kiopPromptSession, type KiopPresetName } from './study-workloads.js';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'paper' },
    batch: { type: 'string' },
    'micro-batch': { type: 'string', default: '32' },
    threads: { type: 'string' },
    'host-bn': { type: 'string', default: 'eval' },
  },
});
const threads = values.threads ? Number(values.threads) : cpus().length;
const choice = await initBackend({ backend: 'wasm', wasmThreads: threads, native: 'auto', nativeThreads: threads });
const meter = WasmAllocations.install();
if (values['host-bn'] !== 'eval' && values['host-bn'] !== 'batch') throw new Error(`--host-bn must be eval or batch, got '${values['host-bn']}'.`);
const ks = kiopPromptSession(values.preset as KiopPresetName, values.batch ? Number(values.batch) : undefined, values['host-bn'] === 'batch');
const micro = Number(values['micro-batch']);
const vars = ks.session.trainableVariables();
const start = vars.map((v) => tf.clone(v));

function run(microBatch?: number) {
  vars.forEach((v, i) => v.assign(start[i] as tf.Tensor));
  ks.session.reseed(7);
  meter?.reset();
  const opt = tf.train.sgd(1);
  const t0 = performance.now();
  const losses = knowledgeStoringStep(ks.session, opt, { weightDecay: 0, ...(microBatch ? { microBatch } : {}) });
  const ms = performance.now() - t0;
  opt.dispose();
  const grads = vars.map((v, i) => {
    const before = (start[i] as tf.Tensor).dataSync();
    return Float32Array.from(v.dataSync(), (after, j) => (before[j] as number) - after);
  });
  return { losses, ms, grads, peakMiB: meter?.peakMiB() };
}

const fmt = (x: number) => x.toExponential(2);
console.log(
  `${cpus()[0]?.model}, ${threads} threads, native kernels ${choice.native.active ? 'on' : `off (${choice.native.reason})`}, ` +
    `load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}`,
);
console.log(`KiOP-B step, preset '${values.preset}': batch ${ks.config.batchSize}, prompt ${ks.config.promptSizes.join(' → ')}, host ${ks.p.bench.arch}, host BN ${values['host-bn'] === 'batch' ? 'on batch statistics' : 'in eval mode'}`);
const parts = run(micro);
console.log(`micro-batches of ${micro}: ${(parts.ms / 1000).toFixed(1)} s, tensor data peak ${parts.peakMiB?.toFixed(0)} MiB, losses ${JSON.stringify(parts.losses)}`);
const whole = run();
console.log(`whole batch:          ${(whole.ms / 1000).toFixed(1)} s, tensor data peak ${whole.peakMiB?.toFixed(0)} MiB, losses ${JSON.stringify(whole.losses)}`);
let scale = 0;
let diff = 0;
whole.grads.forEach((g, i) => {
  const m = parts.grads[i] as Float32Array;
  let s = 0;
  let d = 0;
  g.forEach((v, j) => {
    s = Math.max(s, Math.abs(v));
    d = Math.max(d, Math.abs((m[j] as number) - v));
  });
  console.log(`  ${vars[i]?.name}: max |g| ${fmt(s)}, max |g_micro − g_whole| ${fmt(d)} (${fmt(d / s)} of max |g|)`);
  scale = Math.max(scale, s);
  diff = Math.max(diff, d);
});
console.log(`prompt gradient: max |g_micro − g_whole| / max |g_whole| = ${fmt(diff / scale)} ${diff / scale <= 1e-5 ? '≤' : '>'} 1e-5`);
console.log(`wasm heap ${wasmHeapMiB()?.toFixed(0)} MiB, process RSS high-water ${peakRssMiB().toFixed(0)} MiB (both runs)`);
tf.dispose(start);
ks.dispose();
