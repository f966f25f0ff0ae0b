import * as tf from '@tensorflow/tfjs';
import { expect } from 'vitest';
import { expectClose } from '@promptkd/testing';

let seed = 1;
/** Seeded N(0,1) tensor (a new seed per call, deterministic per test file). */
export function rand(shape: number[]): tf.Tensor {
  return tf.randomNormal(shape, 0, 1, 'float32', seed++);
}

/** Runs a kernel through the engine on the current backend and returns its values. */
export function runKernel(name: string, inputs: Record<string, tf.Tensor>, attrs: object): { shape: number[]; values: Float32Array } {
  const out = tf.engine().runKernel(name, inputs as tf.NamedTensorMap, attrs as tf.NamedAttrMap) as tf.Tensor;
  const values = out.dataSync() as Float32Array;
  const shape = out.shape;
  out.dispose();
  return { shape, values };
}

/** Runs `fn` on the cpu backend and switches back to wasm. */
export async function onCpu<T>(fn: () => T): Promise<T> {
  await tf.setBackend('cpu');
  try {
    return fn();
  } finally {
    await tf.setBackend('wasm');
  }
}

/** Asserts wasm ≈ reference within 1e-4 relative to each element and to the largest reference magnitude. */
export function expectMatches(
  actual: { shape: number[]; values: Float32Array },
  expected: { shape: number[]; values: Float32Array },
  label: string,
): void {
  expect(actual.shape, label).toEqual(expected.shape);
  let maxAbs = 0;
  for (const v of expected.values) maxAbs = Math.max(maxAbs, Math.abs(v));
  expectClose(actual.values, expected.values, { rtol: 1e-4, atol: 1e-4 * Math.max(maxAbs, 1e-3), label });
}

/** Compares a kernel on wasm (promptkd's) with the cpu backend's kernel on the same inputs. */
export async function expectKernelMatchesCpu(
  name: string,
  inputs: Record<string, tf.Tensor>,
  attrs: object,
  label: string,
): Promise<void> {
  expect(tf.getBackend()).toBe('wasm');
  const ours = runKernel(name, inputs, attrs);
  const ref = await onCpu(() => runKernel(name, inputs, attrs));
  expectMatches(ours, ref, `${name} ${label}`);
}

/** Inserts d−1 zeros between the taps of a [kh,kw,a,b] filter (a dilated filter as an ordinary one). */
export function expandFilter(w: tf.Tensor4D, d: number): tf.Tensor4D {
  const [kh, kw, a, b] = w.shape;
  const eh = (kh - 1) * d + 1;
  const ew = (kw - 1) * d + 1;
  const src = w.dataSync();
  const dst = new Float32Array(eh * ew * a * b);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let c = 0; c < a * b; c++) dst[((i * d) * ew + j * d) * a * b + c] = src[(i * kw + j) * a * b + c] as number;
  return tf.tensor4d(dst, [eh, ew, a, b]);
}

/** Takes every d-th tap of an expanded [eh,ew,a,b] filter gradient (inverse of {@link expandFilter}). */
export function subsampleFilter(g: { shape: number[]; values: Float32Array }, d: number, kh: number, kw: number): { shape: number[]; values: Float32Array } {
  const [, ew, a, b] = g.shape as [number, number, number, number];
  const out = new Float32Array(kh * kw * a * b);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let c = 0; c < a * b; c++) out[(i * kw + j) * a * b + c] = g.values[((i * d) * ew + j * d) * a * b + c] as number;
  return { shape: [kh, kw, a, b], values: out };
}
