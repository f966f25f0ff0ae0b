import * as tf from '@tensorflow/tfjs';
import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';
import { expectNoTensorLeak } from '@promptkd/testing';
import {
  VisualPromptLayer,
  createPrompt,
  decodePromptArtifact,
  encodePromptArtifact,
  promptRegistry,
  renderPromptPng,
  type VisualPrompt,
} from '@promptkd/visual-prompt';

/**
 * Registry conformance: every prompt type, built from the example config it registers, must satisfy the same
 * contract. A new type registered in src/registry.ts is picked up here automatically.
 */
describe('prompt registry conformance', () => {
  it('has the documented prompt types', () => {
    expect(promptRegistry.keys()).toEqual(
      expect.arrayContaining(['expansivePad', 'segmented', 'additivePad', 'fixedPatch', 'randomPatch', 'fullOverlay']),
    );
  });

  for (const key of promptRegistry.keys()) {
    describe(key, () => {
      const entry = promptRegistry.get(key);
      const build = (): VisualPrompt => createPrompt(key, entry.create.example);
      const input = (p: VisualPrompt, n: number, seed = 1) =>
        tf.randomUniform([n, ...p.inputShape], 0, 1, 'float32', seed) as tf.Tensor4D;

      it('has metadata, a consistent key and parameter counts', () => {
        expect(entry.description.length).toBeGreaterThan(10);
        expect(entry.paper?.citation).toBeTruthy();
        const p = build();
        expect(p.key).toBe(key);
        const stored = [...p.namedVariables().values()].reduce((a, v) => a + v.size, 0);
        const count = p.parameterCount();
        expect(count.stored).toBe(stored);
        expect(count.effective).toBeGreaterThan(0);
        expect(count.effective).toBeLessThanOrEqual(count.stored);
        // the config is plain JSON and rebuilds the same prompt
        const again = createPrompt(key, JSON.parse(JSON.stringify(p.config)));
        expect(again.parameterCount()).toEqual(count);
        expect(again.outputShape).toEqual(p.outputShape);
        again.dispose();
        p.dispose();
      });

      it('maps [N, ...inputShape] to [N, ...outputShape] with finite values, input untouched', () => {
        const p = build();
        for (const n of [1, 3]) {
          const x = input(p, n);
          const before = Array.from(x.dataSync());
          const y = p.apply(x);
          expect(y.shape).toEqual([n, ...p.outputShape]);
          expect(Array.from(y.dataSync()).every(Number.isFinite)).toBe(true);
          expect(Array.from(x.dataSync())).toEqual(before);
          tf.dispose([x, y]);
        }
        p.dispose();
      });

      it('gradients reach only the prompt variables (a frozen host gets none); training does not leak', async () => {
        const p = build();
        const [h, w, c] = p.outputShape;
        const host = tf.variable(tf.randomNormal([h * w * c, 2], 0, 1, 'float32', 7), false);
        const x = input(p, 2);
        const loss = () => tf.sum(tf.square(tf.matMul(tf.reshape(p.apply(x), [2, h * w * c]), host))) as tf.Scalar;
        // default var list = every trainable variable in the engine
        const { value, grads } = tf.variableGrads(loss);
        const promptNames = p.trainableVariables().map((v) => v.name).sort();
        expect(Object.keys(grads).sort()).toEqual(promptNames);
        for (const g of Object.values(grads)) expect(Array.from(g.dataSync()).every(Number.isFinite)).toBe(true);
        tf.dispose([value, ...Object.values(grads)]);
        // frozen prompt: no trainable variables
        p.setTrainable(false);
        expect(p.trainableVariables()).toEqual([]);
        p.setTrainable(true);
        const opt = tf.train.sgd(0.01);
        await expectNoTensorLeak(() => tf.dispose(opt.minimize(loss, true, p.trainableVariables()) ?? []));
        await expectNoTensorLeak(() => tf.dispose(p.apply(x)));
        opt.dispose();
        tf.dispose([host, x]);
        p.dispose();
      });

      it('is deterministic for the same config (seeded)', () => {
        const a = build();
        const b = build();
        const x = input(a, 2);
        for (let call = 0; call < 2; call++) {
          const ya = a.apply(x);
          const yb = b.apply(x);
          expect(Array.from(yb.dataSync())).toEqual(Array.from(ya.dataSync()));
          tf.dispose([ya, yb]);
        }
        tf.dispose(x);
        a.dispose();
        b.dispose();
      });

      it('round-trips through a prompt artifact (identical next outputs)', () => {
        const p = build();
        let seed = 20;
        for (const v of p.namedVariables().values()) v.assign(tf.randomNormal(v.shape, 0, 0.5, 'float32', seed++));
        const x = input(p, 2);
        tf.dispose(p.apply(x)); // advance any internal state (random patch position)
        const { prompt: back, metadata } = decodePromptArtifact(encodePromptArtifact(p).safetensors);
        expect(metadata.type).toBe(key);
        const ya = p.apply(x);
        const yb = back.apply(x);
        expect(Array.from(yb.dataSync())).toEqual(Array.from(ya.dataSync()));
        tf.dispose([x, ya, yb]);
        p.dispose();
        back.dispose();
      });

      it('renders to a PNG of the output size without leaking', () => {
        const p = build();
        const before = tf.memory().numTensors;
        const img = decode(renderPromptPng(p));
        expect(tf.memory().numTensors).toBe(before);
        expect([img.height, img.width]).toEqual([p.outputShape[0], p.outputShape[1]]);
        const pattern = p.pattern();
        expect(pattern.values.shape).toEqual([...p.outputShape]);
        expect(pattern.mask.shape).toEqual([p.outputShape[0], p.outputShape[1], 1]);
        tf.dispose([pattern.values, pattern.mask]);
        p.dispose();
      });

      it('works as a VisualPromptLayer (getConfig → fromConfig, same outputs)', () => {
        const p = build();
        const layer = new VisualPromptLayer({ promptType: key, promptConfig: { ...p.config } });
        const x = input(p, 2);
        const y1 = layer.apply(x) as tf.Tensor;
        const ya = p.apply(x);
        expect(Array.from(y1.dataSync())).toEqual(Array.from(ya.dataSync()));
        const rebuilt = VisualPromptLayer.fromConfig(VisualPromptLayer, layer.getConfig()) as VisualPromptLayer;
        expect(rebuilt.prompt.parameterCount()).toEqual(p.parameterCount());
        rebuilt.prompt.dispose();
        tf.dispose([x, y1, ya]);
        layer.dispose();
        p.dispose();
      });
    });
  }
});
