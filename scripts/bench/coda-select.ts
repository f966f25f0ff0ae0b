/**
 * Dev aid: CODA-P's prompt selection at the KDP `cpu` preset's shapes (64 queries of 32, 5 tasks of 4 components,
 * prompts of 4 tokens), forward alone (the teacher's, D 64) and with the gradients wrt the prompt variables (the
 * student's, D 32), ms per call (mean of 200 after 20) and tfjs kernels per call.
 * `node --conditions=@promptkd/source --import tsx scripts/bench/coda-select.ts` (`PROMPTKD_NATIVE=0`: without the native
 * kernels, i.e. the composition on the wasm kernels)
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@promptkd/tfjs-env';
import { Rng } from '@promptkd/core';
import { createClMethod } from '@promptkd/continual';
import { kdpPresets, resolveClConfig } from '@promptkd/kdp';

await initBackend({ backend: 'wasm', native: process.env.PROMPTKD_NATIVE === '0' ? false : 'auto' });
const config = resolveClConfig(kdpPresets.cpu, 'coda', 5);
const time = (f: () => void): string => {
  for (let i = 0; i < 20; i++) f();
  const t0 = performance.now();
  for (let i = 0; i < 200; i++) f();
  return ((performance.now() - t0) / 200).toFixed(2);
};
for (const [dim, grads] of [[64, false], [32, true]] as const) {
  const coda = createClMethod('coda', { embedDim: dim, keyDim: 32, numTasks: 5, rng: Rng.fromSeed(1), config });
  for (let t = 0; t <= 4; t++) coda.beforeTask({ task: t, lo: 2 * t, hi: 2 * t + 2 });
  const q = tf.randomNormal([64, 32], 0, 1, 'float32', 2) as tf.Tensor2D;
  const total = (training: boolean): tf.Scalar =>
    tf.addN(coda.select(q, { training }).prefixes.filter((p) => p).map((p) => tf.sum(tf.add(p!.key, p!.value)))) as tf.Scalar;
  const run = grads
    ? () => tf.tidy(() => void Object.values(tf.variableGrads(() => total(true), coda.trainableVariables()).grads)[0]!.dataSync())
    : () => tf.tidy(() => void total(false).dataSync());
  const kernels = (await tf.profile(run)).kernels.length;
  console.log(`D ${dim}, ${grads ? 'select and its gradients' : 'select'}: ${time(run)} ms, ${kernels} kernels`);
  tf.dispose(q);
  coda.dispose();
}
