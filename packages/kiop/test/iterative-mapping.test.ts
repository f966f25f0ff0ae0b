import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, type ClassifierModel } from '@promptkd/core';
import { IterativeLabelMapping } from '@promptkd/label-mapping';
import { createKiopContext, kiopConfigSchema, kiopPresets, trainKiop, updateIterativeMapping, type KiopParticipant } from '@promptkd/kiop';
import { fakeContext } from './context.js';
import { TinyClassifier } from './fakes.js';

// Images whose first pixel encodes a class c = round(10·x[0,0,0]); a teacher that answers c and a host that answers
// (3c + 1) mod 10, so the frequency mapping is π(c) = (3c + 1) mod 10.
const classOf = (x: tf.Tensor4D) => tf.cast(tf.round(tf.mul(tf.slice(x, [0, 0, 0, 0], [-1, 1, 1, 1]).reshape([-1]), 10)), 'int32') as tf.Tensor1D;
const teacher = { numClasses: 10, apply: (x: tf.Tensor4D) => ({ logits: tf.oneHot(classOf(x), 10).toFloat() as tf.Tensor2D }) } as unknown as ClassifierModel;
const int = (v: number) => tf.scalar(v, 'int32');
const host = (x: tf.Tensor4D) => tf.oneHot(tf.mod(tf.add(tf.mul(classOf(x), int(3)), int(1)), int(10)) as tf.Tensor1D, 10).toFloat() as tf.Tensor2D;
let drawn = 0;
const stream = {
  next: (n: number) =>
    tf.tidy(() => {
      const c = Array.from({ length: n }, (_, i) => ((drawn + i) % 10) / 10);
      drawn += n;
      return tf.mul(tf.ones([n, 4, 4, 3]), tf.tensor(c).reshape([n, 1, 1, 1])) as tf.Tensor4D;
    }),
};

describe('data-free iterative label mapping', () => {
  it('recomputes π from the prompted host and the teacher on the stream, and counts the changed classes', () => {
    const m = new IterativeLabelMapping({ hostClasses: 10, sourceClasses: 10, initial: [1, 0, 2, 3, 4, 5, 6, 7, 8, 9] });
    const before = tf.memory().numTensors;
    const changed = updateIterativeMapping(m, stream, teacher, host, undefined, { n: 40, batchSize: 8, seed: 0, epoch: 3 });
    expect(tf.memory().numTensors).toBe(before);
    expect(m.mapping).toEqual(Array.from({ length: 10 }, (_, c) => (3 * c + 1) % 10));
    expect(changed).toBe(10 - [1, 0, 2, 3, 4, 5, 6, 7, 8, 9].filter((s, c) => s === (3 * c + 1) % 10).length);
    expect(m.updates).toEqual([3]);
    m.restore([1, 0, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(m.mapping).toEqual([1, 0, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(() => m.restore([1, 2])).toThrow(/10/);
  });

  it("trainKiop recomputes it before every knowledge-storing period and checkpoints it", async () => {
    const a = fakeContext('kiopB', { overrides: { labelMapping: 'iterative', epochs: 2 } });
    const mapping = a.ctx.mappings[0] as IterativeLabelMapping;
    const result = await trainKiop(a.ctx, {
      onEpochEnd: async ({ training }) => {
        const saved = await training.exportState();
        const pis = (saved.state.parts as { session: number[][] }).session;
        expect(pis).toEqual([[...mapping.mapping]]);
        tf.dispose(Object.values(saved.tensors));
      },
    });
    expect(mapping.updates).toEqual([0, 1]);
    for (const e of result.epochs) expect(e.diagnostics?.labelMappingChangedB).toBeGreaterThanOrEqual(0);
    a.dispose();
  });

  it('a mapping given as a list is used as is, and a list that does not fit the models is refused', () => {
    const p = (k: number) => ({ dataset: 'mnist', model: new TinyClassifier('m', k, 1), test: {} }) as unknown as KiopParticipant;
    const [h, s] = [p(10), p(4)];
    const make = (labelMapping: unknown) =>
      createKiopContext({
        config: kiopConfigSchema.parse({ ...kiopPresets.smoke, variant: 'kiopT', seed: 0, labelMapping }),
        host: h,
        sources: [s],
        createGenerator: () => {
          throw new Error('unused');
        },
      });
    const { ctx, dispose } = make([7, 0, 3, 9]);
    expect(ctx.mappings[0]!.mapping).toEqual([7, 0, 3, 9]);
    dispose();
    expect(() => make([7, 0, 3])).toThrow(/4 classes/);
    expect(() => make([7, 0, 3, 12])).toThrow(ConfigError);
    expect(() => make([7, 7, 3, 1])).toThrow(ConfigError);
    for (const x of [h, s]) x.model.dispose();
  });

  it('is refused for several sources', () => {
    const config = kiopConfigSchema.parse({ ...kiopPresets.smoke, variant: 'multiModel', seed: 0, promptSizes: [32, 36, 40, 44], labelMapping: 'iterative' });
    const p = (k: number) => ({ dataset: 'mnist', model: new TinyClassifier('m', k, 1), test: {} }) as unknown as KiopParticipant;
    const [h, s1, s2] = [p(10), p(4), p(4)];
    expect(() => createKiopContext({ config, host: h, sources: [s1, s2], createGenerator: () => { throw new Error('unused'); } })).toThrow(ConfigError);
    for (const x of [h, s1, s2]) x.model.dispose();
  });
});
