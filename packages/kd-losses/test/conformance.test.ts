import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectNoTensorLeak } from '@promptkd/testing';
import { type KdLossKey, getKdLoss, kdLossRegistry } from '@promptkd/kd-losses';
import { C, N, T, cases, labelsFor, rnd } from './cases.js';

const maxAbs = (x: tf.Tensor): number => Math.max(...Array.from(x.dataSync()).map(Math.abs));

describe('kdLossRegistry conformance', () => {
  it('every registered key has a conformance case, a description and a paper reference', () => {
    expect(kdLossRegistry.keys().sort()).toEqual(Object.keys(cases).sort());
    for (const e of kdLossRegistry.entries()) {
      expect(e.description.length).toBeGreaterThan(10);
      expect(e.paper?.url).toMatch(/^https:\/\/arxiv\.org\//);
    }
  });

  for (const key of Object.keys(cases) as KdLossKey[]) {
    describe(key, () => {
      const c = cases[key];
      it('returns a finite scalar, deterministically, without leaking tensors', async () => {
        const t = c.tensors();
        const y = labelsFor();
        const a = c.run(t, y);
        const b = c.run(t, y);
        expect(a.rank).toBe(0);
        expect(a.dtype).toBe('float32');
        expect(Number.isFinite(a.dataSync()[0])).toBe(true);
        expect(b.dataSync()[0]).toBe(a.dataSync()[0]);
        tf.dispose([a, b]);
        await expectNoTensorLeak(() => c.run(t, y).dispose(), { warmup: false, label: `${key} forward` });
        tf.dispose([t, y]);
      });

      it('sends gradient to the student side only (teacher tensors get exactly zero or none), without leaks', async () => {
        const t = c.tensors();
        const y = labelsFor();
        const names = [...c.trainable, ...c.frozen];
        const grads = (): tf.Tensor[] =>
          tf.grads((...xs: tf.Tensor[]) => c.run({ ...t, ...Object.fromEntries(names.map((n, i) => [n, xs[i] as tf.Tensor])) }, y))(
            names.map((n) => T(t, n)),
          );
        const g = grads();
        names.forEach((n, i) => {
          const m = maxAbs(g[i] as tf.Tensor);
          if (c.trainable.includes(n)) expect(m, `gradient of trainable '${n}'`).toBeGreaterThan(0);
          else expect(m, `gradient of frozen '${n}'`).toBe(0);
          expect(Number.isFinite(m)).toBe(true);
        });
        tf.dispose(g);
        await expectNoTensorLeak(() => tf.dispose(grads()), { warmup: false, label: `${key} backward` });
        for (const n of c.unused ?? []) {
          const f = (x: tf.Tensor): tf.Scalar => c.run({ ...t, [n]: x }, y);
          expect(() => tf.grads(f)([T(t, n)]), `'${n}' must not influence the loss`).toThrow(/Cannot compute gradient/);
        }
        tf.dispose([t, y]);
      });
    });
  }

  it("klDivergence with targetGradient: true sends gradient to the target as well", () => {
    const s = rnd([N, C], 70);
    const tt = rnd([N, C], 71);
    const [, g] = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
      getKdLoss('klDivergence')({ student: { logits: a }, teacher: { logits: b } }, { temperature: 4, targetGradient: true }),
    )([s, tt]);
    expect(maxAbs(g as tf.Tensor)).toBeGreaterThan(0);
    tf.dispose([s, tt, g]);
  });

  it('a missing tap names the available ones', () => {
    const s = rnd([N, C], 80);
    expect(() => getKdLoss('distillationToken')({ student: { logits: s }, teacher: { logits: s } }, { temperature: 2 })).toThrow(
      /student tap 'kdLogits'.*only have: logits/,
    );
    expect(() => getKdLoss('hinton')({ student: { logits: s }, teacher: { logits: s } }, { alpha: 0.5, temperature: 2 })).toThrow(/labels/);
    s.dispose();
  });
});
