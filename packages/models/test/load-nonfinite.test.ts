import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { NonFiniteError } from '@promptkd/core';
import { createModel, exportStateDict, loadModelWeights, loadStateDict, writeSafetensors, type FunctionalClassifier, type TorchTensor } from '@promptkd/models/node';

// A checkpoint holding NaN/Inf is refused with a NonFiniteError naming the tensor, before any weight changes.

const work = mkdtempSync(join(tmpdir(), 'promptkd-nonfinite-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

const snapshot = (m: FunctionalClassifier) => new Map([...m.namedVariables()].map(([k, v]) => [k, Array.from(v.dataSync())]));

describe('loading non-finite weights', () => {
  for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    it(`loadStateDict and loadModelWeights reject ${bad} all-or-nothing`, async () => {
      const src = createModel('bnCnn', { blocks: [2, 3], numClasses: 3, seed: 1 }) as FunctionalClassifier;
      const dst = createModel('bnCnn', { blocks: [2, 3], numClasses: 3, seed: 2 }) as FunctionalClassifier;
      const dict = exportStateDict(src);
      // the poisoned tensor comes last in name order, so every other tensor would have been assigned first
      const names = [...dict.keys()];
      const victim = names[names.length - 1] as string;
      const t = dict.get(victim) as TorchTensor;
      const data = t.data.slice();
      data[data.length - 1] = bad;
      dict.set(victim, { shape: t.shape, data });
      const before = snapshot(dst);
      const n0 = tf.memory().numTensors;

      let err: unknown;
      try {
        loadStateDict(dst, dict, { file: 'poisoned' });
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(NonFiniteError);
      expect((err as NonFiniteError).details).toMatchObject({ tensor: victim, file: 'poisoned', index: data.length - 1 });
      expect((err as Error).message).toContain(`'${victim}'`);
      expect(snapshot(dst)).toEqual(before);

      const file = join(work, `poisoned-${String(bad)}.safetensors`);
      await writeSafetensors(file, dict);
      await expect(loadModelWeights(dst, file)).rejects.toThrow(NonFiniteError);
      await expect(loadModelWeights(dst, file)).rejects.toMatchObject({ details: { tensor: victim, file } });
      expect(snapshot(dst)).toEqual(before);
      expect(tf.memory().numTensors).toBe(n0);

      // the clean dict still loads
      dict.set(victim, t);
      loadStateDict(dst, dict);
      expect(snapshot(dst)).toEqual(snapshot(src));
      src.dispose();
      dst.dispose();
    });
  }
});
