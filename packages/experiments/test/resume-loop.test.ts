import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Rng, type RngState, scalarValue } from '@promptkd/core';
import { assignVariables, createProgress, createRunFolder, guardFinite } from '@promptkd/experiments';

/**
 * The resume pattern every trainer follows, on a tiny linear regression: seeded batch order from `Rng`,
 * SGD momentum, checkpoint every epoch, resume from the last checkpoint after a "kill".
 */
let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'pkd-loop-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

interface LoopState {
  rng: RngState;
}
const N = 32;
const X = Array.from({ length: N }, (_, i) => [Math.sin(i), Math.cos(3 * i), i / N]);
const Y = X.map(([a, b, c]) => 2 * (a as number) - (b as number) + 0.5 * (c as number));

let instance = 0;
async function train(runName: string, epochs: number, stopAfterEpoch?: number): Promise<number[]> {
  const config = { lr: 0.05, momentum: 0.9, epochs, batch: 8, seed: 3 };
  const run = createRunFolder(root, { name: runName, config, seed: config.seed });
  // Fresh "process": new variables (unique tf names per instance in this test) and optimizer.
  instance++;
  const vars = { w: tf.variable(tf.zeros([3, 1]), true, `loop-w-${instance}`), b: tf.variable(tf.zeros([1]), true, `loop-b-${instance}`) };
  const optimizer = tf.train.momentum(config.lr, config.momentum);
  let rng = Rng.fromSeed(config.seed);
  let startEpoch = 0;
  let step = 0;
  const ckpt = await run.loadLatestCheckpoint<LoopState>();
  if (ckpt) {
    assignVariables(vars, ckpt.tensors);
    await ckpt.restoreOptimizer('opt', optimizer, { variables: vars });
    rng = Rng.fromState(ckpt.state.rng);
    startEpoch = ckpt.epoch ?? 0;
    step = ckpt.step;
    run.rewindMetrics((r) => (r.step as number) <= step);
    ckpt.dispose();
  }
  const xs = tf.tensor2d(X);
  const ys = tf.tensor2d(Y, [N, 1]);
  for (let epoch = startEpoch; epoch < epochs; epoch++) {
    const order = rng.permutation(N);
    const bar = createProgress({ total: N / config.batch, label: `epoch ${epoch + 1}/${epochs}`, silent: true });
    for (let i = 0; i < N; i += config.batch) {
      const idx = tf.tensor1d(order.slice(i, i + config.batch), 'int32');
      const loss = optimizer.minimize(
        () => tf.tidy(() => tf.losses.meanSquaredError(tf.gather(ys, idx), tf.add(tf.matMul(tf.gather(xs, idx), vars.w), vars.b)) as tf.Scalar),
        true,
        [vars.w, vars.b],
      ) as tf.Scalar;
      const losses = guardFinite({ mse: scalarValue(loss) }, { step });
      tf.dispose([loss, idx]);
      step++;
      run.appendMetrics({ step, epoch, ...losses });
      bar.tick(1, losses);
    }
    bar.stop();
    await run.saveCheckpoint({ step, epoch: epoch + 1, tensors: vars, optimizers: { opt: { optimizer, variables: vars } }, state: { rng: rng.getState() } satisfies LoopState });
    if (stopAfterEpoch !== undefined && epoch + 1 === stopAfterEpoch) break; // "killed"
  }
  const out = [...(await vars.w.data()), ...(await vars.b.data())];
  const done = stopAfterEpoch === undefined || stopAfterEpoch >= epochs;
  if (done) run.writeResults({ weights: out, steps: step });
  tf.dispose([xs, ys, vars.w, vars.b]);
  optimizer.dispose();
  return out;
}

describe('resume pattern', () => {
  it('a run killed after epoch 2 and resumed reaches exactly the uninterrupted result and metrics', async () => {
    const straight = await train('straight', 5);
    await train('resumed', 5, 2);
    // Simulate metric lines logged after the last checkpoint before the kill.
    fs.appendFileSync(path.join(root, 'resumed', 'metrics.jsonl'), `${JSON.stringify({ step: 9, epoch: 2, mse: 1 })}\n`);
    const resumed = await train('resumed', 5);
    expect(resumed).toEqual(straight);
    const strip = (f: string) => fs.readFileSync(f, 'utf8').trim().split('\n').map((l) => { const { time: _t, ...rest } = JSON.parse(l); return rest; });
    expect(strip(path.join(root, 'resumed', 'metrics.jsonl'))).toEqual(strip(path.join(root, 'straight', 'metrics.jsonl')));
    expect(strip(path.join(root, 'straight', 'metrics.jsonl'))).toHaveLength(20);
  });
});
