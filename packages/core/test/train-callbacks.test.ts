import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { expectNoTensorLeak } from '@promptkd/testing';
import {
  CheckpointError,
  ConfigError,
  PromptKdError,
  adam,
  codaCosineLr,
  combineCallbacks,
  cosineAnnealingLr,
  createRegistry,
  momentum,
  resumableOptimizer,
  resumableParts,
  resumableVariables,
  scheduledLr,
  type TrainingState,
} from '../src/index.js';

describe('lr schedules', () => {
  it('cosine annealing is PyTorch CosineAnnealingLR stepped per epoch (η_min = 0)', () => {
    expect(cosineAnnealingLr(0.8, 0, 100)).toBe(0.8);
    expect(cosineAnnealingLr(0.8, 50, 100)).toBeCloseTo(0.4, 15);
    // the form trainClassifier used, (η₀(1 + cos))/2, gives the same bits (halving is exact)
    for (const e of [0, 1, 7, 13, 29]) expect(cosineAnnealingLr(0.05, e, 30)).toBe((0.05 * (1 + Math.cos((Math.PI * e) / 30))) / 2);
  });
  it('CODA cosine and constant by name', () => {
    expect(codaCosineLr(1e-3, 0, 5)).toBe(1e-3);
    expect(scheduledLr('coda-cosine', 1e-3, 4, 5)).toBeCloseTo(1e-3 * Math.cos((99 * Math.PI) / 200), 15);
    expect(scheduledLr('constant', 1e-3, 4, 5)).toBe(1e-3);
    expect(scheduledLr('cosine', 2, 1, 2)).toBeCloseTo(1, 15);
    expect(() => scheduledLr('nope' as 'constant', 1, 0, 1)).toThrow(/Valid keys: coda-cosine, constant, cosine/);
  });
});

describe('PromptKdError.isInstance / JSON', () => {
  it('recognises promptkd errors by a marker, optionally by code', () => {
    const e = new ConfigError('bad field', { field: 'x' });
    expect(PromptKdError.isInstance(e)).toBe(true);
    expect(PromptKdError.isInstance(e, 'E_CONFIG')).toBe(true);
    expect(PromptKdError.isInstance(e, 'E_SHAPE')).toBe(false);
    expect(PromptKdError.isInstance(new Error('plain'))).toBe(false);
    expect(PromptKdError.isInstance({ code: 'E_CONFIG', message: 'look-alike' })).toBe(false);
    // a copy of the class from another package instance carries the same global-symbol marker
    const foreign = Object.assign(new Error('from a second copy'), { code: 'E_CONFIG', details: {} });
    Object.defineProperty(foreign, Symbol.for('@promptkd/core/error'), { value: true });
    expect(PromptKdError.isInstance(foreign, 'E_CONFIG')).toBe(true);
  });
  it('round-trips through JSON to the class of its code', () => {
    const back = PromptKdError.fromJSON(JSON.parse(JSON.stringify(new CheckpointError('torn', { file: 'a' }))));
    expect(back).toBeInstanceOf(CheckpointError);
    expect(back.code).toBe('E_CHECKPOINT');
    expect(back.message).toBe('torn');
    expect(back.details).toEqual({ file: 'a' });
    const other = PromptKdError.fromJSON({ name: 'StorageError', code: 'E_STORAGE', message: 'disk full', details: {} });
    expect(other.code).toBe('E_STORAGE');
    expect(other.name).toBe('StorageError');
    expect(PromptKdError.isInstance(other)).toBe(true);
  });
});

describe('Rng.setState', () => {
  it('continues a held generator from a saved state', async () => {
    const { Rng } = await import('../src/index.js');
    const a = Rng.fromSeed(4);
    a.random();
    a.normal();
    const saved = a.getState();
    const expected = [a.random(), a.normal(), a.int(0, 99)];
    const held = Rng.fromSeed(999);
    held.setState(saved);
    expect([held.random(), held.normal(), held.int(0, 99)]).toEqual(expected);
  });
});

describe('registry meta', () => {
  it('labels and orders entries from their meta', () => {
    const r = createRegistry<number, { label?: string; order?: number; banks?: number }>('thing');
    r.register('b', { description: 'B', meta: { label: 'Bee', order: 2, banks: 2 }, create: 1 });
    r.register('a', { description: 'A', meta: { label: 'Ay', order: 1 }, create: 1 });
    r.register('c', { description: 'C', create: 1 });
    expect(r.label('b')).toBe('Bee');
    expect(r.label('c')).toBe('c');
    expect(r.label('unknown')).toBe('unknown');
    expect(r.ordered()).toEqual(['a', 'b', 'c']);
    expect(r.ordered(['zz', 'c', 'b'])).toEqual(['b', 'c', 'zz']);
    expect(r.get('b').meta?.banks).toBe(2);
  });
});

describe('TrainCallbacks and Resumable', () => {
  it('combineCallbacks calls every set in order and awaits each', async () => {
    const calls: string[] = [];
    const cb = combineCallbacks(
      { onStepEnd: async (s) => void (await Promise.resolve(), calls.push(`a${s.step}`)) },
      undefined,
      { onStepEnd: (s) => void calls.push(`b${s.step}`), onTrainEnd: () => void calls.push('end') },
    );
    await cb.onStepEnd?.({ epoch: 0, step: 1, loss: 0 });
    await cb.onTrainEnd?.({ epochs: 1, step: 1 });
    expect(calls).toEqual(['a1', 'b1', 'end']);
  });

  it('resumableParts prefixes tensors and state; resumableVariables checks names and shapes', async () => {
    const w: tf.Variable = tf.variable(tf.tensor1d([1, 2, 3]));
    const b: tf.Variable = tf.variable(tf.scalar(4));
    const counter = { n: 5 };
    const parts = resumableParts({
      model: resumableVariables(() => new Map([['w', w], ['b', b]])),
      counter: { exportState: async () => ({ tensors: {}, state: counter.n }), importState: async (s) => void (counter.n = s.state as number) },
    });
    const saved = await parts.exportState();
    expect(Object.keys(saved.tensors).sort()).toEqual(['model/b', 'model/w']);
    expect(saved.state).toEqual({ model: null, counter: 5 });
    w.assign(tf.zeros([3]));
    counter.n = 0;
    await parts.importState(saved);
    expect([...w.dataSync()]).toEqual([1, 2, 3]);
    expect(counter.n).toBe(5);
    await expect(parts.importState({ tensors: {}, state: { counter: 1 } })).rejects.toBeInstanceOf(CheckpointError);
    const wrong: TrainingState<Record<string, unknown>> = { tensors: { 'model/w': tf.zeros([2]), 'model/b': b }, state: { model: null, counter: 1 } };
    await expect(parts.importState(wrong)).rejects.toThrow(/shape/);
    tf.dispose([...Object.values(saved.tensors), wrong.tensors['model/w'] as tf.Tensor, w, b]);
  });

  for (const [name, make] of [['adam', () => adam(0.1)], ['momentum', () => momentum(0.1, 0.9)]] as const) {
    it(`resumableOptimizer (${name}): a restored optimizer continues exactly, by logical names`, async () => {
      const target = tf.tensor1d([0.3, -1, 2]);
      const run = (opt: tf.Optimizer, vars: tf.Variable[], steps: number) => {
        for (let s = 0; s < steps; s++) opt.minimize(() => tf.sum(tf.square(tf.sub(tf.mul(vars[0]!, vars[1]!), target))) as tf.Scalar, false, vars);
      };
      const init = (): tf.Variable[] => [tf.variable(tf.tensor1d([1, 2, 3])), tf.variable(tf.scalar(0.5))];
      // straight: 5 steps
      const a = init();
      const optA = make();
      run(optA, a, 5);
      // 2 steps, export, then a fresh optimizer and fresh variables (other engine names) import and do 3 more
      const b = init();
      const optB = make();
      const named = (v: tf.Variable[]) => () => [['w', v[0]!], ['s', v[1]!]] as const;
      run(optB, b, 2);
      const saved = await resumableOptimizer(optB, named(b)).exportState();
      const vals = b.map((v) => v.clone());
      const c = init();
      c.forEach((v, i) => v.assign(vals[i]!));
      const optC = make();
      // importing twice: the second import frees the slots of the first (no leak)
      await expectNoTensorLeak(() => resumableOptimizer(optC, named(c)).importState(saved), { label: 'importState' });
      run(optC, c, 3);
      expect([...c[0]!.dataSync()]).toEqual([...a[0]!.dataSync()]);
      expect([...c[1]!.dataSync()]).toEqual([...a[1]!.dataSync()]);
      expect(saved.state.className).toBe(optB.getClassName());
      expect(saved.state.iterations).toBe(2);
      expect(saved.state.slots.every((s) => s.startsWith('w/') || s.startsWith('s/'))).toBe(true);
      await expect(resumableOptimizer(name === 'adam' ? momentum(0.1, 0.9) : adam(0.1), named(c)).importState(saved)).rejects.toBeInstanceOf(CheckpointError);
      for (const o of [optA, optB, optC]) o.dispose();
      tf.dispose([...a, ...b, ...c, ...vals, ...Object.values(saved.tensors), target]);
    });
  }
});
