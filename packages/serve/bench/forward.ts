// The host forward alone, by batch size: what bounds the batched server's gain over one request at a time.
// Median and fastest of `reps` eval-mode forwards of random canvases per batch size. Not part of `npm test`.
//
//   node --conditions=@promptkd/source --import tsx packages/serve/bench/forward.ts <host.safetensors|cache key> [canvas=128] [batches=1,16,32] [reps=30]
//
// PyTorch's forward of the same ResNet-18 geometry: python3 packages/serve/bench/torch_forward.py [canvas] [batches] [reps]
import * as tf from '@tensorflow/tfjs';
import { cpus } from 'node:os';
import { initBackend } from '@promptkd/tfjs-env';
import { loadHost } from '../src/host.js';

const [spec, canvasArg, batchesArg, repsArg] = process.argv.slice(2);
if (!spec) {
  console.error('usage: forward.ts <host.safetensors|cache key> [canvas=128] [batches=1,16,32] [reps=30]');
  process.exit(2);
}
const s = Number(canvasArg ?? 128);
const batches = (batchesArg ?? '1,16,32').split(',').map(Number);
const reps = Number(repsArg ?? 30);
await initBackend({ backend: 'auto', wasmThreads: 'auto', log: (l) => console.log(l) });
const host = await loadHost(spec);
console.log(`CPU: ${cpus()[0]?.model}; host ${host.arch}; canvas ${s} px`);
for (const b of batches) {
  const x = tf.randomUniform([b, s, s, 3]) as tf.Tensor4D;
  const run = () => tf.tidy(() => void host.model.apply(x, { training: false }).logits.dataSync());
  for (let i = 0; i < 3; i++) run();
  const t: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    run();
    t.push(performance.now() - t0);
  }
  t.sort((a, c) => a - c);
  const med = t[t.length >> 1]!;
  console.log(`batch ${b}: median ${med.toFixed(1)} ms, fastest ${t[0]!.toFixed(1)} ms, ${(med / b).toFixed(2)} ms per image`);
  x.dispose();
}
