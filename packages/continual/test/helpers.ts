import * as tf from '@tensorflow/tfjs';
import { Rng } from '@promptkd/core';
import { VisionTransformer } from '@promptkd/models';
import { fromVisionTransformer, type ClassIncrementalTask, type PromptableViT } from '../src/index.js';

/** A tiny grey-scale ViT (16 px, patch 4 → 16 patches, depth 2). */
export function tinyVit(dim = 16, heads = 2, seed = 0): { vit: VisionTransformer; backbone: PromptableViT } {
  const vit = new VisionTransformer({ imageSize: 16, patchSize: 4, inputChannels: 1, dim, depth: 2, heads, mlpRatio: 2, numClasses: 0, seed });
  return { vit, backbone: fromVisionTransformer(vit) };
}

/** Synthetic class-incremental stream: class c = a bright square at a class-specific position plus noise. */
export function syntheticTasks(numTasks: number, classesPerTask: number, perClass: number, seed = 1): ClassIncrementalTask[] {
  const rng = Rng.fromSeed(seed);
  const make = (classes: number[], count: number) => {
    const n = classes.length * count;
    const data = new Float32Array(n * 16 * 16);
    const y = new Int32Array(n);
    let i = 0;
    for (const c of classes) {
      for (let k = 0; k < count; k++, i++) {
        y[i] = c;
        const r0 = (c * 5) % 12;
        const c0 = (c * 3) % 12;
        for (let p = 0; p < 256; p++) data[i * 256 + p] = 0.2 * rng.random();
        for (let r = r0; r < r0 + 4; r++) for (let q = c0; q < c0 + 4; q++) data[i * 256 + r * 16 + q] = 0.8 + 0.2 * rng.random();
      }
    }
    return { x: tf.tensor4d(data, [n, 16, 16, 1]), y };
  };
  return Array.from({ length: numTasks }, (_, t) => {
    const lo = t * classesPerTask;
    const hi = lo + classesPerTask;
    const classes = Array.from({ length: classesPerTask }, (_, j) => lo + j);
    return { task: t, lo, hi, train: make(classes, perClass), test: make(classes, Math.max(2, perClass >> 1)) };
  });
}

export function disposeTasks(tasks: ClassIncrementalTask[]): void {
  for (const t of tasks) tf.dispose([t.train.x, t.test.x]);
}

/** Host copies of variable values. */
export function snapshot(vars: readonly tf.Variable[]): Float32Array[] {
  return vars.map((v) => v.dataSync().slice() as Float32Array);
}

export function sameValues(a: Float32Array[], b: Float32Array[]): boolean {
  return a.length === b.length && a.every((x, i) => x.length === (b[i] as Float32Array).length && x.every((v, j) => v === (b[i] as Float32Array)[j]));
}
