// Microbenchmark: how a mixed batch's per-row prompt patterns are best built, against the host forward they feed.
// (a) tf.gather of the prompts' patterns by row (what the batcher did before), (b) the rows copied into one buffer in
// JS and uploaded (what it does now), both followed by the canvas add, next to the host forward of the same batch.
// Not part of `npm test`.
//
//   node --conditions=@promptkd/source --import tsx packages/serve/bench/pattern-rows.ts <host.safetensors|cache key> [canvas=64]
import * as tf from '@tensorflow/tfjs';
import { cpus } from 'node:os';
import { initBackend } from '@promptkd/tfjs-env';
import { loadHost } from '../src/host.js';

const [spec, canvasArg] = process.argv.slice(2);
if (!spec) {
  console.error('usage: pattern-rows.ts <host.safetensors|cache key> [canvas px, default 64]');
  process.exit(2);
}
const s = Number(canvasArg ?? 64);
await initBackend({ backend: 'auto', wasmThreads: 'auto', log: (l) => console.log(l) });
const host = await loadHost(spec);
const size = s * s * 3;
const time = (label: string, f: () => void, n = 40) => {
  for (let i = 0; i < 5; i++) f();
  const t0 = performance.now();
  for (let i = 0; i < n; i++) f();
  console.log(`${label.padEnd(46)} ${((performance.now() - t0) / n).toFixed(2)} ms`);
};
console.log(`CPU: ${cpus()[0]?.model}; canvas ${s} px; 8 prompts, rows assigned round-robin`);
const patterns = tf.randomUniform([8, s, s, 3]);
const patternData = Array.from({ length: 8 }, (_, p) => Float32Array.from({ length: size }, (_, i) => ((i * 7 + p) % 13) / 13));
for (const b of [1, 16]) {
  const x = tf.randomUniform([b, s, s, 3]) as tf.Tensor4D;
  const index = tf.tensor1d(Int32Array.from({ length: b }, (_, i) => i % 8), 'int32');
  time(`host forward, batch ${b}`, () => tf.tidy(() => void host.model.apply(x, { training: false }).logits.dataSync()));
  time(`(a) gather patterns by row + add, batch ${b}`, () => tf.tidy(() => void tf.add(x, tf.gather(patterns, index)).dataSync()));
  time(`(b) rows copied in JS + add, batch ${b}`, () =>
    tf.tidy(() => {
      const rows = new Float32Array(b * size);
      for (let i = 0; i < b; i++) rows.set(patternData[i % 8]!, i * size);
      void tf.add(x, tf.tensor4d(rows, [b, s, s, 3])).dataSync();
    }),
  );
  tf.dispose([x, index]);
}
