import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectNoTensorLeak } from '@promptkd/testing';
import { createLabelMapping, labelMappingFromJSON, labelMappingRegistry } from '@promptkd/label-mapping';

/** Every registered label mapping, built from its example config, must satisfy the same contract. */
describe('label-mapping registry conformance', () => {
  it('has the documented strategies', () => {
    expect(labelMappingRegistry.keys()).toEqual(expect.arrayContaining(['random', 'frequency', 'iterative', 'fixed']));
  });

  for (const key of labelMappingRegistry.keys()) {
    describe(key, () => {
      const example = labelMappingRegistry.get(key).create.example as unknown;
      const build = () => createLabelMapping(key, example);

      it('maps [N, K_host] to [N, K_source] with finite values, one-to-one', () => {
        const m = build();
        const hostClasses = m.toJSON().hostClasses;
        const k = m.mapping.length;
        expect(new Set(m.mapping).size).toBe(k);
        expect(k).toBeLessThanOrEqual(hostClasses);
        for (const n of [1, 3]) {
          const logits = tf.randomNormal([n, hostClasses], 0, 1, 'float32', n) as tf.Tensor2D;
          const out = m.apply(logits);
          expect(out.shape).toEqual([n, k]);
          expect(Array.from(out.dataSync()).every(Number.isFinite)).toBe(true);
          // out[:, j] == logits[:, π(j)]
          const l = logits.arraySync();
          const o = out.arraySync();
          for (let i = 0; i < n; i++) for (let j = 0; j < k; j++) expect(o[i]?.[j]).toBe(l[i]?.[m.mapping[j] as number]);
          tf.dispose([logits, out]);
        }
      });

      it('gradients reach exactly the mapped host logits and nothing leaks', async () => {
        const m = build();
        const hostClasses = m.toJSON().hostClasses;
        const logits = tf.randomNormal([2, hostClasses], 0, 1, 'float32', 9) as tf.Tensor2D;
        const g = tf.grad((l: tf.Tensor) => tf.sum(m.apply(l as tf.Tensor2D)))(logits);
        const mapped = new Set(m.mapping);
        for (const row of g.arraySync() as number[][]) {
          row.forEach((v, h) => expect(v).toBe(mapped.has(h) ? 1 : 0));
        }
        await expectNoTensorLeak(() => {
          tf.dispose(tf.grad((l: tf.Tensor) => tf.sum(m.apply(l as tf.Tensor2D)))(logits));
        });
        tf.dispose([logits, g]);
      });

      it('is deterministic for the same config', () => {
        expect(build().mapping).toEqual(build().mapping);
      });

      it('round-trips through JSON (as stored in prompt artifacts)', () => {
        const m = build();
        const json = JSON.parse(JSON.stringify(m.toJSON())) as ReturnType<typeof m.toJSON>;
        const back = labelMappingFromJSON(json);
        expect(back.mapping).toEqual(m.mapping);
        const logits = tf.randomNormal([2, json.hostClasses]) as tf.Tensor2D;
        const a = m.apply(logits);
        const b = back.apply(logits);
        expect(Array.from(a.dataSync())).toEqual(Array.from(b.dataSync()));
        tf.dispose([logits, a, b]);
      });
    });
  }
});
