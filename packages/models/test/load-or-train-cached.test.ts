import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, describe, expect, it } from 'vitest';
import { memoryCheckpointStore } from '@promptkd/core';
import { cacheKeyOf, createModel, loadOrTrainCached, modelCacheDir, trainClassifier, type Batch, type FunctionalClassifier } from '@promptkd/models/node';

const work = mkdtempSync(join(tmpdir(), 'promptkd-cached-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function* batches(epoch: number): Generator<Batch> {
  for (let i = 0; i < 3; i++) {
    yield tf.tidy(() => ({ x: tf.randomUniform([4, 8, 8, 3], 0, 1, 'float32', 1 + 10 * epoch + i) as tf.Tensor4D, y: tf.tensor1d([0, 1, 1, 0], 'int32') }));
  }
}
const build = () => createModel('bnCnn', { blocks: [4], numClasses: 2, seed: 3 }) as FunctionalClassifier;
const key = cacheKeyOf('toy-bnCnn', { v: 1, epochs: 2 });
const values = (m: FunctionalClassifier) => [...m.namedVariables().values()].map((v) => Array.from(v.dataSync()));

describe('loadOrTrainCached', () => {
  it('keys the cache by recipe and finds the model cache from the environment', () => {
    expect(key).toMatch(/^toy-bnCnn-[0-9a-f]{16}$/);
    expect(cacheKeyOf('toy-bnCnn', { v: 1, epochs: 3 })).not.toBe(key);
    expect(modelCacheDir({ PROMPTKD_MODELS: '/m' })).toBe('/m');
    expect(modelCacheDir({ PROMPTKD_DATA: '/d/data' })).toBe('/d/models');
    expect(modelCacheDir({ XDG_CACHE_HOME: '/x' })).toBe('/x/promptkd/models');
  });

  it('trains once (resuming a killed training from its partial checkpoint), then loads the cached file', async () => {
    const train = (m: FunctionalClassifier, callbacks: Parameters<typeof trainClassifier>[2]['callbacks']) =>
      trainClassifier(m, batches, { optimizer: 'sgd', lr: 0.1, epochs: 2, cosine: true, seed: 1, stepsPerEpoch: 3, ...(callbacks ? { callbacks } : {}) });
    // reference: an uninterrupted training
    const ref = build();
    await train(ref, undefined);

    const dir = join(work, 'cache');
    const store = memoryCheckpointStore();
    const kill = new Error('killed');
    const options = {
      cacheKey: key,
      cacheDir: dir,
      build,
      train: async (m: FunctionalClassifier, callbacks: NonNullable<Parameters<typeof train>[1]>) => {
        await train(m, callbacks);
        return { note: 'toy' };
      },
    };
    const n0 = tf.memory().numTensors;
    let saves = 0;
    await expect(
      loadOrTrainCached({ ...options, checkpoint: { store: () => store, everySteps: 2, onSaved: () => { if (++saves === 2) throw kill; } } }),
    ).rejects.toBe(kill);
    expect(readdirSync(join(work)).includes('cache') ? readdirSync(dir).filter((f) => f.endsWith('.safetensors')) : []).toEqual([]);
    const lines: string[] = [];
    const trained = await loadOrTrainCached({ ...options, checkpoint: { store: () => store }, log: (l) => lines.push(l) });
    expect(lines[0]).toMatch(/^resuming pretraining of toy-bnCnn-\w+ at epoch 1, step 3$/);
    expect(trained.source).toBe('trained');
    expect(values(trained.model)).toEqual(values(ref));
    expect(trained.info.note).toBe('toy');
    expect(JSON.parse(readFileSync(join(dir, `${key}.json`), 'utf8')).seconds).toBeGreaterThan(0);

    const again = await loadOrTrainCached({ ...options, train: () => Promise.reject(new Error('must not train')) });
    expect(again.source).toBe('cache');
    expect(again.file).toBe(join(dir, `${key}.safetensors`));
    expect(again.info.note).toBe('toy');
    expect(values(again.model)).toEqual(values(ref));
    for (const m of [trained.model, again.model]) m.dispose();
    store.clear();
    expect(tf.memory().numTensors).toBe(n0);
    ref.dispose();
  });

  it('loads an explicit weights file without training; a failing training leaves nothing behind', async () => {
    const file = join(work, 'cache', `${key}.safetensors`);
    const given = await loadOrTrainCached({ cacheKey: 'unused', cacheDir: join(work, 'none'), build, weights: file, train: () => Promise.reject(new Error('no')) });
    expect(given.source).toBe('weights');
    given.model.dispose();
    const n0 = tf.memory().numTensors;
    await expect(loadOrTrainCached({ cacheKey: 'fails', cacheDir: join(work, 'fails'), build, train: () => Promise.reject(new Error('diverged')) })).rejects.toThrow('diverged');
    expect(tf.memory().numTensors).toBe(n0);
  });
});
