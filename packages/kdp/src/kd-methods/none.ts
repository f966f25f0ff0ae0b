import type * as tf from '@tensorflow/tfjs';
import { weightedSum } from '@promptkd/kd-losses';
import type { KdMethod, KdMethodArgs } from '../types.js';
import { ceAndPool, seenLogits } from './common.js';

/**
 * `none` — the student alone (spec §4 "Student only"): the same CL method on the small ViT with masked CE +
 * key loss, no teacher (= logit KD with α = 0).
 */
export function createStudentAlone(_args: KdMethodArgs): KdMethod {
  return {
    key: 'none',
    usesTeacher: false,
    teacherFeatures: 'none',
    studentBlocks: false,
    studentExtras: () => ({}),
    loss(args) {
      const { ce, pool } = ceAndPool(args);
      return weightedSum({ ce: [1, ce], pool: [1, pool] });
    },
    predict: (student, hi) => seenLogits(student, hi),
    namedVariables: () => new Map<string, tf.Variable>(),
    trainableVariables: () => [],
    dispose: () => undefined,
  };
}
