import { ShapeError } from '@promptkd/core';
import { createReviewKdModules, reviewKdLoss } from '@promptkd/kd-losses';
import type { KdMethod, KdMethodArgs } from '../types.js';
import { ceAndPool, currentTaskKd, mixLoss, requireTeacher, seenLogits } from './common.js';

/**
 * `reviewkd` — logit KD plus w·(1/L)·Σ_l MSE(ABF_l, F^T_l) (spec §4; w = 0.2): all L student blocks fused
 * top-down by L ABF modules (Linear+LN, fusion gate, projection to D_T); teacher features are its last L
 * blocks. A loose transformer adaptation of ReviewKD, as in the reference.
 */
export function createReviewKd({ hyper, studentDim, teacherDim, studentDepth, rng }: KdMethodArgs): KdMethod {
  const modules = createReviewKdModules({ studentDim, teacherDim, levels: studentDepth, rng, name: 'reviewkd' });
  return {
    key: 'reviewkd',
    usesTeacher: true,
    teacherFeatures: 'blocks',
    studentBlocks: true,
    studentExtras: () => ({}),
    loss(args) {
      const teacher = requireTeacher(args.teacher, 'reviewkd');
      if (!args.student.blocks || !teacher.blocks) throw new ShapeError('ReviewKD needs every block output of student and teacher.');
      const { ce, pool } = ceAndPool(args);
      const kd = currentTaskKd(args.student.logits, teacher.logits, args.ctx.lo, args.ctx.hi, hyper.temperature);
      const feat = reviewKdLoss(args.student.blocks, teacher.blocks, modules);
      return mixLoss(hyper.alpha, ce, kd, pool, { feature: [hyper.reviewKdWeight, feat] });
    },
    predict: (student, hi) => seenLogits(student, hi),
    namedVariables: () => modules.namedVariables(),
    trainableVariables: () => modules.trainableVariables(),
    dispose: () => modules.dispose(),
  };
}
