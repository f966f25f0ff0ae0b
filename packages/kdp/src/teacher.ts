import * as tf from '@tensorflow/tfjs';
import type { TaskContext } from '@promptkd/core';
import { stopGradient, type Batch, type PromptedClassifier, type QuerySource } from '@promptkd/continual';
import type { TeacherFeatureNeed, TeacherOutputs } from './types.js';

/** Where the student gets teacher outputs for a batch. */
export interface TeacherSource {
  /** Teacher outputs for `batch` of task `ctx` (eval mode, no gradient). */
  outputs(batch: Batch, ctx: TaskContext, need: TeacherFeatureNeed): TeacherOutputs;
}

/** z^T on the current task's columns for a batch, eval mode, detached: `[N, hi − lo]`. */
export function teacherTaskLogits(teacher: PromptedClassifier, x: tf.Tensor4D, query: tf.Tensor2D, ctx: TaskContext): tf.Tensor2D {
  return tf.tidy(() => {
    const { logits } = teacher.forward(x, query, { training: false, noGrad: true });
    return stopGradient(tf.slice(logits, [0, ctx.lo], [logits.shape[0], ctx.hi - ctx.lo]));
  });
}

/**
 * The frozen teacher of the current task (spec §5.4): eval-mode forward under no gradient, logits restricted
 * to [lo, hi). With `cachedLogits` (spec §8.1 (b), exact without augmentation) the logits of the task's
 * training images are looked up by row index instead of recomputed; features are always computed.
 */
export class LiveTeacher implements TeacherSource {
  constructor(
    readonly teacher: PromptedClassifier,
    private readonly cachedLogits?: (task: number) => tf.Tensor2D | undefined,
  ) {}

  outputs(batch: Batch, ctx: TaskContext, need: TeacherFeatureNeed): TeacherOutputs {
    const cached = need === 'none' ? this.cachedLogits?.(ctx.task) : undefined;
    if (cached) return { logits: tf.gather(cached, tf.tensor1d(batch.indices, 'int32')) };
    if (need === 'none') return { logits: teacherTaskLogits(this.teacher, batch.x, batch.query, ctx) };
    const out = this.teacher.forward(batch.x, batch.query, { training: false, blockOutputs: true, noGrad: true });
    const blocks = (out.blocks ?? []).map((b) => stopGradient(b));
    const logits = stopGradient(tf.slice(out.logits, [0, ctx.lo], [out.logits.shape[0], ctx.hi - ctx.lo]));
    return need === 'last' ? { logits, last: blocks[blocks.length - 1] as tf.Tensor3D } : { logits, last: blocks[blocks.length - 1] as tf.Tensor3D, blocks };
  }
}

/**
 * Teacher logits `[n, hi − lo]` on every training image of a task (computed once after the teacher finished
 * the task; spec §8.1 (b)).
 */
export function computeTaskTeacherLogits(
  teacher: PromptedClassifier,
  images: tf.Tensor4D,
  ctx: TaskContext,
  queries: QuerySource,
  key: string,
  batchSize = 64,
): tf.Tensor2D {
  const n = images.shape[0];
  const parts: tf.Tensor2D[] = [];
  for (let start = 0; start < n; start += batchSize) {
    const size = Math.min(batchSize, n - start);
    const indices = Int32Array.from({ length: size }, (_, i) => start + i);
    const x = tf.slice(images, [start, 0, 0, 0], [size, -1, -1, -1]);
    const q = queries.queries(key, images, indices, x);
    parts.push(teacherTaskLogits(teacher, x, q, ctx));
    tf.dispose([x, q]);
  }
  if (parts.length === 1) return parts[0] as tf.Tensor2D;
  const out = tf.concat(parts, 0);
  tf.dispose(parts);
  return out;
}

