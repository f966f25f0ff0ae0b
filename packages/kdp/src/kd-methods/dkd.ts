import * as tf from '@tensorflow/tfjs';
import { decoupledKdParts } from '@promptkd/kd-losses';
import type { KdMethod, KdMethodArgs } from '../types.js';
import { ceAndPool, mixLoss, requireTeacher, seenLogits } from './common.js';

/**
 * `dkd` — Decoupled KD on the CLS head (spec §4): L = (1−α)·CE + α·[a·TCKD + b·NCKD] + L_pool with DKD's own
 * temperature (4), a = 1, b = 4, targets re-indexed to the current task, current-task columns only.
 */
export function createDkd({ hyper }: KdMethodArgs): KdMethod {
  return {
    key: 'dkd',
    usesTeacher: true,
    teacherFeatures: 'none',
    studentBlocks: false,
    studentExtras: () => ({}),
    loss(args) {
      const teacher = requireTeacher(args.teacher, 'dkd');
      const { ce, pool } = ceAndPool(args);
      const { lo, hi } = args.ctx;
      const { tckd, nckd } = decoupledKdParts(
        { studentLogits: args.student.logits, teacherLogits: teacher.logits, labels: args.labels },
        { temperature: hyper.dkd.temperature, columns: { lo, hi } },
      );
      const kd = tf.add(tf.mul(tckd, hyper.dkd.alpha), tf.mul(nckd, hyper.dkd.beta)) as tf.Scalar;
      const res = mixLoss(hyper.alpha, ce, kd, pool);
      return { total: res.total, terms: { ...res.terms, tckd, nckd } };
    },
    predict: (student, hi) => seenLogits(student, hi),
    namedVariables: () => new Map<string, tf.Variable>(),
    trainableVariables: () => [],
    dispose: () => undefined,
  };
}
