import type * as tf from '@tensorflow/tfjs';
import type { KdMethod, KdMethodArgs } from '../types.js';
import { ceAndPool, currentTaskKd, mixLoss, requireTeacher, seenLogits } from './common.js';

/**
 * `kd` — Hinton logit KD on the CLS head, current-task columns only (spec §4):
 * L = (1−α)·CE + α·τ²·KL(softmax(z^T/τ) ‖ softmax(z^S[lo:hi]/τ)) + L_pool.
 */
export function createLogitKd({ hyper }: KdMethodArgs): KdMethod {
  return {
    key: 'kd',
    usesTeacher: true,
    teacherFeatures: 'none',
    studentBlocks: false,
    studentExtras: () => ({}),
    loss(args) {
      const teacher = requireTeacher(args.teacher, 'kd');
      const { ce, pool } = ceAndPool(args);
      const kd = currentTaskKd(args.student.logits, teacher.logits, args.ctx.lo, args.ctx.hi, hyper.temperature);
      return mixLoss(hyper.alpha, ce, kd, pool);
    },
    predict: (student, hi) => seenLogits(student, hi),
    namedVariables: () => new Map<string, tf.Variable>(),
    trainableVariables: () => [],
    dispose: () => undefined,
  };
}
