import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError, DataFormatError, PromptKdError, Rng } from '@promptkd/core';
import { createRunFolder, loadCheckpoint, loadLatestCheckpoint, openRunFolder, saveCheckpoint } from '@promptkd/experiments';

let root: string;
beforeAll(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'pkd-fuzz-'));
});
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function mutate(rng: Rng, bytes: Buffer): Buffer {
  const b = Buffer.from(bytes);
  if (rng.random() < 0.4) return b.subarray(0, rng.int(0, b.length));
  const flips = rng.int(1, 3);
  for (let i = 0; i < flips; i++) {
    const pos = rng.int(0, b.length - 1);
    b[pos] = (b[pos] as number) ^ (1 << rng.int(0, 7));
  }
  return b;
}

function typed(e: unknown): boolean {
  return e instanceof DataFormatError || e instanceof CheckpointError;
}

describe('fuzz: checkpoint and run-folder files give typed errors only', () => {
  it('mutated manifests and tensor files (300 inputs): loadCheckpoint succeeds or throws a typed error, never leaks', async () => {
    const dir = path.join(root, 'ck');
    const w = tf.ones([3, 2]);
    const opt = tf.train.momentum(0.1, 0.9);
    const v = tf.variable(tf.ones([2]), true, 'fuzz-v');
    opt.minimize(() => tf.sum(tf.square(v)) as tf.Scalar, false, [v])?.dispose();
    const info = await saveCheckpoint(dir, { step: 1, epoch: 0, tensors: { w }, optimizers: { o: opt }, state: { a: [1, 2], rng: Rng.fromSeed(1).getState() } });
    tf.dispose([w, v]);
    opt.dispose();
    const manifest = fs.readFileSync(info.manifestFile);
    const tensors = fs.readFileSync(info.tensorsFile);
    const rng = Rng.fromSeed(5);
    let ok = 0;
    let rejected = 0;
    const before = tf.memory().numTensors;
    for (let i = 0; i < 300; i++) {
      const which = i % 3;
      fs.writeFileSync(info.manifestFile, which !== 1 ? mutate(rng, manifest) : manifest);
      fs.writeFileSync(info.tensorsFile, which !== 0 ? mutate(rng, tensors) : tensors);
      try {
        const ck = await loadCheckpoint(info.manifestFile);
        ck.dispose();
        ok++;
      } catch (e) {
        if (!typed(e)) throw e;
        rejected++;
      }
    }
    expect(tf.memory().numTensors).toBe(before);
    expect(ok + rejected).toBe(300);
    expect(rejected).toBeGreaterThan(150);
    // loadLatestCheckpoint on a corrupt-only directory: a typed error too.
    fs.writeFileSync(info.manifestFile, manifest.subarray(0, 20));
    await expect(loadLatestCheckpoint(dir, { warn: () => undefined })).rejects.toBeInstanceOf(CheckpointError);
  });

  it('mutated config.json, run.json, results.json and metrics.jsonl (300 inputs): typed errors only', () => {
    const run = createRunFolder(root, { name: 'r', config: { a: 1, b: { c: 'x' } }, seed: 2 });
    run.appendMetrics({ step: 1, loss: 0.5 });
    run.appendMetrics({ step: 2, loss: 0.25 });
    run.writeResults({ acc: 0.9 });
    const files = [run.paths.config, run.paths.run, run.paths.results, run.paths.metrics];
    const originals = files.map((f) => fs.readFileSync(f));
    const rng = Rng.fromSeed(9);
    let rejected = 0;
    for (let i = 0; i < 300; i++) {
      const k = i % files.length;
      files.forEach((f, j) => fs.writeFileSync(f, j === k ? mutate(rng, originals[j] as Buffer) : (originals[j] as Buffer)));
      try {
        const r = openRunFolder(run.dir);
        r.readResults();
        r.readMetrics();
        r.info();
      } catch (e) {
        if (!(e instanceof PromptKdError)) throw e;
        rejected++;
      }
    }
    expect(rejected).toBeGreaterThan(50);
  });
});
