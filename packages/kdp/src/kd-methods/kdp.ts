import * as tf from '@tensorflow/tfjs';
import { KdPrompts } from '../kd-prompts.js';
import type { KdMethod, KdMethodArgs } from '../types.js';
import { ceAndPool, currentTaskKd, mixLoss, requireTeacher } from './common.js';

/**
 * `kdp` — Knowledge Distillation based on Prompts (spec §5): KD token appended after the patch tokens
 * (no positional embedding), KD prefix prompts APPENDED in layers 1..n_kd−1, KD head k on the KD token.
 * Loss (1−α)·CE(g(h_CLS)) + α·τ²·KL(z^T ‖ k(h_KD)[lo:hi]) + L_pool; prediction (1−α)·g + α·k.
 * With `kdLayers = 1` it is the DeiT distillation-token baseline (`deit`).
 */
export function createKdp(args: KdMethodArgs, key = 'kdp', kdLayers = args.hyper.kdLayers): KdMethod {
  const { hyper } = args;
  const parts = new KdPrompts({
    dim: args.studentDim,
    depth: args.studentDepth,
    kdLayers,
    length: hyper.kdPromptLength,
    numClasses: args.numClasses,
    rng: args.rng,
  });
  return {
    key,
    usesTeacher: true,
    teacherFeatures: 'none',
    studentBlocks: false,
    studentExtras: (n) => parts.extras(n),
    loss(a) {
      const teacher = requireTeacher(a.teacher, key);
      const { ce, pool } = ceAndPool(a);
      const kd = currentTaskKd(parts.kdLogits(a.student.tokens), teacher.logits, a.ctx.lo, a.ctx.hi, hyper.temperature);
      return mixLoss(hyper.alpha, ce, kd, pool);
    },
    predict(student, hi) {
      const n = student.logits.shape[0];
      const g = tf.slice(student.logits, [0, 0], [n, hi]);
      const k = tf.slice(parts.kdLogits(student.tokens), [0, 0], [n, hi]);
      return tf.add(tf.mul(g, 1 - hyper.alpha), tf.mul(k, hyper.alpha));
    },
    namedVariables: () => parts.namedVariables(),
    trainableVariables: () => parts.trainableVariables(),
    dispose: () => parts.dispose(),
  };
}

/** `deit` — DeiT-style distillation token + KD head, no KD prefixes (= KDP with n_kd = 1, spec §4). */
export function createDeitToken(args: KdMethodArgs): KdMethod {
  return createKdp(args, 'deit', 1);
}
