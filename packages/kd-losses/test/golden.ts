import * as tf from '@tensorflow/tfjs';
import { expectClose, readFixture } from '@promptkd/testing';

/**
 * Tolerances for comparing float32 TensorFlow.js results with float64 reference values.
 * VALUE_RTOL: losses match within 1e-5 relative. GRAD_RTOL: gradients within 1e-5 relative to the gradient's
 * largest element (|a − e| <= 1e-5·(|e| + max|e|)), so near-zero entries are judged at the tensor's scale.
 * Where float32 rounding of intermediate softmax/log-sum-exp values exceeds that, a case uses FLOAT32_RTOL = 1e-4
 * and says why.
 */
export const VALUE_RTOL = 1e-5;
export const GRAD_RTOL = 1e-5;
export const FLOAT32_RTOL = 1e-4;

export type Nested = number | Nested[];
export interface FixtureCase {
  readonly name: string;
  readonly [key: string]: unknown;
}
interface FixtureFile {
  readonly cases: FixtureCase[];
}

export function loadCase(file: 'kd-losses.json' | 'kd-losses-extra.json', name: string): FixtureCase {
  const fixture = readFixture<FixtureFile>(import.meta.url, file);
  const c = fixture.cases.find((x) => x.name === name);
  if (!c) throw new Error(`fixture ${file} has no case '${name}'`);
  return c;
}

export function num(c: FixtureCase, key: string): number {
  const v = c[key];
  if (typeof v !== 'number') throw new Error(`fixture field ${c.name}.${key} is not a number`);
  return v;
}

export function tensor(c: FixtureCase | Record<string, unknown>, key: string): tf.Tensor {
  const v = (c as Record<string, unknown>)[key];
  if (!Array.isArray(v)) throw new Error(`fixture field ${key} is not an array`);
  return tf.tensor(v as number[], undefined, 'float32');
}

export function labels(c: FixtureCase, key = 'labels'): tf.Tensor1D {
  return tf.tensor1d(c[key] as number[], 'int32');
}

/** PyTorch Linear weight `[out, in]` → our `[in, out]`. */
export function torchLinear(p: Record<string, unknown>): { weight: tf.Tensor2D; bias: tf.Tensor1D } {
  return tf.tidy(() => ({
    weight: tf.transpose(tensor(p, 'weight_out_in')) as tf.Tensor2D,
    bias: tensor(p, 'bias') as tf.Tensor1D,
  }));
}

export function flat(x: Nested): number[] {
  return Array.isArray(x) ? x.flatMap(flat) : [x];
}

/** Compares a scalar loss with a reference value within `rtol` relative. */
export function expectValue(actual: tf.Tensor | number, expected: number, label: string, rtol = VALUE_RTOL): void {
  const a = typeof actual === 'number' ? actual : (actual.dataSync()[0] as number);
  report(label, Math.abs(a - expected) / Math.abs(expected));
  expectClose([a], [expected], { rtol, atol: 0, label });
}

/** Compares a gradient with a reference within `rtol` of each element plus `rtol`·max|reference|. */
export function expectGradient(actual: tf.Tensor, expected: Nested, label: string, rtol = GRAD_RTOL): void {
  const e = flat(expected);
  const scale = Math.max(...e.map(Math.abs));
  const a = actual.dataSync();
  report(label, Math.max(...e.map((x, i) => Math.abs((a[i] as number) - x) / scale)));
  expectClose(actual.dataSync(), e, { rtol, atol: rtol * scale, label });
}

/** With PROMPTKD_REPORT_ERRORS=1, prints each comparison's relative error (for reports; no effect otherwise). */
function report(label: string, error: number): void {
  if (process.env.PROMPTKD_REPORT_ERRORS === '1') console.log(`[golden] ${tf.getBackend()} ${label}: ${error.toExponential(2)}`);
}
