import * as tf from '@tensorflow/tfjs';
import { Rng } from '@promptkd/core';
import { VisionTransformer } from '@promptkd/models';
import { fromVisionTransformer, type ClassIncrementalTask, type PromptableViT } from '@promptkd/continual';
import type { VitShape } from '../src/index.js';

export function buildVit(shape: VitShape, seed: number): { vit: VisionTransformer; backbone: PromptableViT } {
  const vit = new VisionTransformer({
    imageSize: shape.imageSize,
    patchSize: shape.patchSize,
    inputChannels: shape.channels,
    dim: shape.dim,
    depth: shape.depth,
    heads: shape.heads,
    mlpRatio: shape.mlpRatio,
    numClasses: 0,
    seed,
  });
  return { vit, backbone: fromVisionTransformer(vit) };
}

/** Synthetic class-incremental stream of `size`×`size` grey images: class c = a bright square at a class-specific spot. */
export function syntheticTasks(numTasks: number, classesPerTask: number, perClass: number, testPerClass: number, size = 16, seed = 1): ClassIncrementalTask[] {
  const rng = Rng.fromSeed(seed);
  const px = size * size;
  const make = (classes: number[], count: number) => {
    const n = classes.length * count;
    const data = new Float32Array(n * px);
    const y = new Int32Array(n);
    let i = 0;
    for (const c of classes) {
      for (let k = 0; k < count; k++, i++) {
        y[i] = c;
        const r0 = (c * 5) % (size - 4);
        const c0 = (c * 3) % (size - 4);
        for (let p = 0; p < px; p++) data[i * px + p] = 0.2 * rng.random();
        for (let r = r0; r < r0 + 4; r++) for (let q = c0; q < c0 + 4; q++) data[i * px + r * size + q] = 0.8 + 0.2 * rng.random();
      }
    }
    return { x: tf.tensor4d(data, [n, size, size, 1]), y };
  };
  return Array.from({ length: numTasks }, (_, t) => {
    const lo = t * classesPerTask;
    const hi = lo + classesPerTask;
    const classes = Array.from({ length: classesPerTask }, (_, j) => lo + j);
    return { task: t, lo, hi, train: make(classes, perClass), test: make(classes, testPerClass) };
  });
}

export function disposeTasks(tasks: ClassIncrementalTask[]): void {
  for (const t of tasks) tf.dispose([t.train.x, t.test.x]);
}

export function snapshot(vars: readonly tf.Variable[]): Float32Array[] {
  return vars.map((v) => v.dataSync().slice() as Float32Array);
}

export function sameValues(a: Float32Array[], b: Float32Array[]): boolean {
  return a.length === b.length && a.every((x, i) => x.length === (b[i] as Float32Array).length && x.every((v, j) => v === (b[i] as Float32Array)[j]));
}
