import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fixturePath } from '@promptkd/testing';

/** NCHW nested array → NHWC tensor. */
export function nhwc(x: unknown): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor(x as number[]), [0, 2, 3, 1]) as tf.Tensor4D);
}

export function flat(x: unknown): number[] {
  return (x as unknown[]).flat(Infinity as 1) as number[];
}

export function fixtureBytes(url: string, name: string): Uint8Array {
  const b = readFileSync(fixturePath(url, name));
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
}
