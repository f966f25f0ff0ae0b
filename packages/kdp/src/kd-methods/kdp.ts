import * as tf from '@tensorflow/tfjs';
import type { PromptedForward } from '@promptkd/continual';
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
  const heads = (student: PromptedForward, hi: number) => {
    const n = student.logits.shape[0];
    return { g: tf.slice(student.logits, [0, 0], [n, hi]), k: tf.slice(parts.kdLogits(student.tokens), [0, 0], [n, hi]) };
  };
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
      const { g, k } = heads(student, hi);
      return tf.add(tf.mul(g, 1 - hyper.alpha), tf.mul(k, hyper.alpha));
    },
    heads: (student, hi) => heads(student, hi),
    namedVariables: () => parts.namedVariables(),
    trainableVariables: () => parts.trainableVariables(),
    dispose: () => parts.dispose(),
  };
}

/** `deit` — DeiT-style distillation token + KD head, no KD prefixes (= KDP with n_kd = 1, spec §4). */
export function createDeitToken(args: KdMethodArgs): KdMethod {
  return createKdp(args, 'deit', 1);
}

/**
 * `kdp-alpha0` — control: KDP's parts (KD token, KD prefixes, KD head) in the student's forward, but α = 0, so
 * the loss is CE + L_pool (the KD term has weight 0 and the KD head stays at its initialisation) and the
 * prediction is g alone (kdp-spec §8.4). Any difference to `none` comes from the KD token and prefixes in the
 * attention, not from the teacher.
 */
export function createKdpAlpha0(args: KdMethodArgs): KdMethod {
  return createKdp({ ...args, hyper: { ...args.hyper, alpha: 0 } }, 'kdp-alpha0');
}
