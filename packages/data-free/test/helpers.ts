import * as tf from '@tensorflow/tfjs';
import { readFileSync } from 'node:fs';
import { fixturePath } from '@promptkd/testing';
import { BnCnn, deserializeModel } from '@promptkd/models';

/** NCHW nested array → NHWC tensor. */
export function nhwc(x: unknown): tf.Tensor4D {
  return tf.tidy(() => tf.transpose(tf.tensor(x as number[]), [0, 2, 3, 1]) as tf.Tensor4D);
}

export function flat(x: unknown): number[] {
  return (x as unknown[]).flat(Infinity as 1) as number[];
}

/** The fixtures' BN CNN (conv 3→4, BN, ReLU, conv s2 4→5, BN, ReLU, GAP, linear 5→3) with its PyTorch weights. */
export function fixtureBnCnn(testUrl: string): BnCnn {
  const m = new BnCnn({ blocks: [{ channels: 4 }, { channels: 5, stride: 2 }], numClasses: 3 });
  const b = readFileSync(fixturePath(testUrl, 'bn-cnn.safetensors'));
  deserializeModel(m, new Uint8Array(b.buffer, b.byteOffset, b.byteLength), { file: 'bn-cnn.safetensors' });
  m.setTrainable(false);
  return m;
}
