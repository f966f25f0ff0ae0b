import { ShapeError } from '@promptkd/core';
import { createFitNetsRegressor, fitNetsLoss } from '@promptkd/kd-losses';
import type { KdMethod, KdMethodArgs } from '../types.js';
import { ceAndPool, currentTaskKd, mixLoss, requireTeacher, seenLogits } from './common.js';

/**
 * `fitnets` — logit KD plus w·MSE(W_p·F^S, F^T) (spec §4; w = 0.1): F = output of the last block (all
 * tokens, before the final LayerNorm) of student and teacher (teacher with its own prompts, eval mode);
 * W_p = Linear(D_S → D_T), trainable, persists across tasks.
 */
export function createFitNets({ hyper, studentDim, teacherDim, rng }: KdMethodArgs): KdMethod {
  const regressor = createFitNetsRegressor({ studentDim, teacherDim, rng, name: 'fitnets.regressor' });
  return {
    key: 'fitnets',
    usesTeacher: true,
    teacherFeatures: 'last',
    studentBlocks: true,
    studentExtras: () => ({}),
    loss(args) {
      const teacher = requireTeacher(args.teacher, 'fitnets');
      const blocks = args.student.blocks;
      if (!blocks || !teacher.last) throw new ShapeError('FitNets needs the last block output of student and teacher.');
      const { ce, pool } = ceAndPool(args);
      const kd = currentTaskKd(args.student.logits, teacher.logits, args.ctx.lo, args.ctx.hi, hyper.temperature);
      const feat = fitNetsLoss(blocks[blocks.length - 1] as (typeof blocks)[number], teacher.last, regressor);
      return mixLoss(hyper.alpha, ce, kd, pool, { feature: [hyper.fitnetsWeight, feat] });
    },
    predict: (student, hi) => seenLogits(student, hi),
    namedVariables: () => regressor.namedVariables(),
    trainableVariables: () => regressor.trainableVariables(),
    dispose: () => regressor.dispose(),
  };
}
