/**
 * Dev aid: the fused attention kernels and their gradients per call — `PromptkdAttention` (q, k, v apart) and
 * `PromptkdQkvAttention` (from a packed qkv) — at the CPU studies' shapes (KDP teacher and student, the bench's
 * ViT), 200 calls after 20. Compare addons with `PROMPTKD_NATIVE_ADDON=<file>`.
 * `node --conditions=@promptkd/source --import tsx scripts/bench/attention-call.ts`
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '@promptkd/tfjs-env';

await initBackend({ backend: 'wasm', native: 'auto' });
const SHAPES: Array<[n: number, l: number, d: number, heads: number]> = [
  [64, 17, 64, 4],
  [64, 19, 32, 2],
  [32, 65, 192, 3],
];
const time = (f: () => void): string => {
  for (let i = 0; i < 20; i++) f();
  const t0 = performance.now();
  for (let i = 0; i < 200; i++) f();
  return (((performance.now() - t0) / 200) * 1000).toFixed(0);
};
for (const [n, l, d, heads] of SHAPES) {
  const [q, k, v, dy] = [0, 1, 2, 3].map((s) => tf.randomNormal([n, l, d], 0, 1, 'float32', s));
  const attrs = { heads, scale: 1 / Math.sqrt(d / heads) };
  const [o, p] = tf.engine().runKernel('PromptkdAttention', { q: q!, k: k!, v: v! }, attrs) as tf.Tensor[];
  const forward = time(() => tf.dispose(tf.engine().runKernel('PromptkdAttention', { q: q!, k: k!, v: v! }, attrs) as tf.Tensor[]));
  const gradient = time(() => tf.dispose(tf.engine().runKernel('PromptkdAttentionGrad', { dy: dy!, q: q!, k: k!, v: v!, p: p! }, attrs) as tf.Tensor[]));
  const qkv = tf.concat([q!, k!, v!], 2);
  const [, pp] = tf.engine().runKernel('PromptkdQkvAttention', { qkv }, attrs) as tf.Tensor[];
  const packed = time(() => tf.dispose(tf.engine().runKernel('PromptkdQkvAttention', { qkv }, attrs) as tf.Tensor[]));
  const packedGradient = time(() => tf.dispose(tf.engine().runKernel('PromptkdQkvAttentionGrad', { dy: dy!, qkv, p: pp! }, attrs) as tf.Tensor[]));
  console.log(
    `[${n}, ${l}, ${d}], ${heads} heads: forward ${forward} µs, gradient ${gradient} µs; from packed qkv: forward ${packed} µs, gradient ${packedGradient} µs`,
  );
  tf.dispose([q!, k!, v!, dy!, o!, p!, qkv, pp!]);
}
