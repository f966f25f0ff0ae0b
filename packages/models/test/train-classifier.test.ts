import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { ConfigError, disposeAll } from '@promptkd/core';
import { createModel, crossEntropy, evaluate, trainClassifier, wrapLayersModel, type Batch } from '@promptkd/models';
import { expectClose, expectNoTensorLeak } from '@promptkd/testing';

/** Two classes: bright left half vs bright right half, plus noise. */
function toyBatches(n: number, batch: number, seed: number): Batch[] {
  const out: Batch[] = [];
  for (let i = 0; i < n; i++) {
    out.push(tf.tidy(() => {
      const y = tf.tensor1d(Array.from({ length: batch }, (_, j) => (i + j) % 2), 'int32');
      const col = tf.reshape(tf.linspace(0, 1, 8), [1, 1, 8, 1]);
      const yf = tf.reshape(tf.cast(y, 'float32'), [batch, 1, 1, 1]);
      const ramp = tf.add(tf.mul(yf, col), tf.mul(tf.sub(1, yf), tf.sub(1, col)));
      const x = tf.clipByValue(tf.add(tf.tile(ramp, [1, 8, 1, 3]), tf.randomNormal([batch, 8, 8, 3], 0, 0.2, 'float32', seed + i)), 0, 1) as tf.Tensor4D;
      return { x, y };
    }));
  }
  return out;
}

describe('trainClassifier / evaluate', () => {
  it('crossEntropy equals -mean log softmax at the label', () => {
    const logits = tf.tensor2d([[1, 2, 0], [0.5, -1, 3]]);
    const ce = crossEntropy(logits, tf.tensor1d([1, 2], 'int32')).dataSync()[0] as number;
    const ls = (r: number[], k: number) => r[k]! - Math.log(r.reduce((s, v) => s + Math.exp(v), 0));
    expect(ce).toBeCloseTo(-(ls([1, 2, 0], 1) + ls([0.5, -1, 3], 2)) / 2, 5);
    logits.dispose();
  });

  it('SGD and Adam (cosine) learn a toy task, report progress and leave no tensors behind', async () => {
    const train = toyBatches(6, 8, 1);
    const test = toyBatches(2, 8, 100);
    for (const optimizer of ['sgd', 'adam'] as const) {
      const m = createModel('bnCnn', { blocks: [8, 8], numClasses: 2, seed: 3 });
      const before = await evaluate(m, test);
      const progress: number[] = [];
      const epochs = await trainClassifier(m, train, {
        optimizer, lr: optimizer === 'sgd' ? 0.1 : 0.01, epochs: 3, cosine: true, weightDecay: 5e-4, seed: 1,
        onProgress: (p) => { if (!p.epochEnd) progress.push(p.loss); },
      });
      expect(progress.length).toBe(18);
      expect(epochs.map((e) => e.lr)).toEqual([1, 0.75, 0.25].map((f) => f * (optimizer === 'sgd' ? 0.1 : 0.01)).map((v) => expect.closeTo(v, 12)));
      const after = await evaluate(m, test);
      expect(after.examples).toBe(16);
      expect(after.accuracy).toBeGreaterThanOrEqual(0.9);
      expect(after.loss).toBeLessThan(before.loss);
      await expectNoTensorLeak(() => trainClassifier(m, train.slice(0, 2), { optimizer, lr: 0.01, epochs: 1 }), { label: `${optimizer} training` });
      m.dispose();
    }
    disposeAll([train, test]);
  });

  it('lets timers run during a long epoch (a model-cache lock is refreshed by one)', async () => {
    const train = toyBatches(4, 16, 7);
    const m = createModel('bnCnn', { blocks: [16, 16], numClasses: 2, seed: 3 });
    let ticks = 0;
    const timer = setInterval(() => ticks++, 20);
    const t0 = performance.now();
    // one epoch of many steps that never awaits anything but tensor data
    await trainClassifier(m, () => Array.from({ length: 400 }, (_, i) => train[i % 4]!), { lr: 0.01, epochs: 1, disposeBatches: false });
    const ms = performance.now() - t0;
    clearInterval(timer);
    expect(ms).toBeGreaterThan(600); // long enough for the check to mean something
    expect(ticks).toBeGreaterThanOrEqual(2);
    m.dispose();
    disposeAll([train]);
  });

  it('SGD step matches the PyTorch update rule (momentum, weight decay)', async () => {
    const m = createModel('bnCnn', { blocks: [2], numClasses: 2, seed: 4 });
    const head = m.namedVariables().get('6.weight')!;
    const batch = toyBatches(1, 4, 9);
    const w0 = head.dataSync().slice();
    const g = tf.tidy(() => {
      const state = new Map([...m.namedVariables()].map(([k, v]) => [k, v.clone()]));
      const grads = tf.variableGrads(() => crossEntropy(m.apply(batch[0]!.x, { training: true }).logits, batch[0]!.y), m.trainableVariables()).grads;
      for (const [k, v] of state) m.namedVariables().get(k)!.assign(v); // undo the running-stat update
      return grads[head.name]!.dataSync().slice();
    });
    await trainClassifier(m, batch, { optimizer: 'sgd', lr: 0.5, momentum: 0.9, weightDecay: 0.1, epochs: 1 });
    // First step: buf = g + wd·w; w ← w − lr·buf.
    expectClose(head.dataSync(), Array.from(w0, (w, i) => w - 0.5 * ((g[i] as number) + 0.1 * w)), { rtol: 1e-4, atol: 1e-6 });
    disposeAll(batch);
    m.dispose();
  });

  it('rejects frozen models and bad options', async () => {
    const m = createModel('bnCnn', { blocks: [2], numClasses: 2 });
    m.setTrainable(false);
    await expect(trainClassifier(m, [], { lr: 0.1, epochs: 1 })).rejects.toBeInstanceOf(ConfigError);
    m.setTrainable(true);
    await expect(trainClassifier(m, [], { lr: 0, epochs: 1 })).rejects.toBeInstanceOf(ConfigError);
    m.dispose();
  });

  it('accepts async iterables and per-epoch factories, disposing their batches', async () => {
    const m = createModel('bnCnn', { blocks: [4], numClasses: 2 });
    const gen = async function* () { for (const b of toyBatches(2, 4, 3)) yield b; };
    const n0 = tf.memory().numTensors;
    const res = await trainClassifier(m, () => gen(), { optimizer: 'adam', lr: 0.01, epochs: 2 });
    expect(res.length).toBe(2);
    const ev = await evaluate(m, gen());
    expect(ev.examples).toBe(8);
    expect(tf.memory().numTensors).toBe(n0);
    m.dispose();
  });
});

describe('wrapLayersModel', () => {
  it('adapts a tf.LayersModel: logits, variables, freezing, training; taps are refused', async () => {
    const lm = tf.sequential({ layers: [
      tf.layers.conv2d({ inputShape: [8, 8, 3], filters: 4, kernelSize: 3, activation: 'relu' }),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.dense({ units: 2 }),
    ] });
    const m = wrapLayersModel(lm, { name: 'user' });
    expect(m.numClasses).toBe(2);
    expect(m.inputChannels).toBe(3);
    const batches = toyBatches(2, 4, 5);
    const out = m.apply(batches[0]!.x);
    expect(out.logits.shape).toEqual([4, 2]);
    out.logits.dispose();
    expect([...m.namedVariables().keys()].length).toBe(4);
    expect(m.headNames?.length).toBe(2);
    for (const h of m.headNames ?? []) expect(m.namedVariables().has(h)).toBe(true);
    expect(() => m.apply(batches[0]!.x, { bnTaps: true })).toThrow(ConfigError);
    const before = m.trainableVariables()[0]!.dataSync().slice();
    await trainClassifier(m, batches, { lr: 0.1, epochs: 1 });
    expect(Array.from(m.trainableVariables()[0]!.dataSync())).not.toEqual(Array.from(before));
    m.setTrainable(false);
    expect(m.trainableVariables()).toEqual([]);
    disposeAll(batches);
    m.dispose();
  });
});
