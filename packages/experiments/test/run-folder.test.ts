import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigError, DataFormatError, NonFiniteError } from '@promptkd/core';
import { createRunFolder, guardFinite, guardFiniteTensors, openRunFolder, runMetadata } from '@promptkd/experiments';

let root: string;
beforeEach(() => {
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'pkd-run-'));
});
afterEach(() => fs.rmSync(root, { recursive: true, force: true }));

describe('run folders', () => {
  it('creates the layout and records config, seed, times and environment', () => {
    const run = createRunFolder(root, { name: 'kiop/mnist__fmnist', config: { lr: 0.1, nested: { a: [1, 2] } }, seed: 3 });
    expect(run.dir).toBe(path.join(root, 'kiop', 'mnist__fmnist'));
    for (const d of ['checkpoints', 'tables', 'figures']) expect(fs.statSync(path.join(run.dir, d)).isDirectory()).toBe(true);
    expect(JSON.parse(fs.readFileSync(run.paths.config, 'utf8'))).toEqual({ lr: 0.1, nested: { a: [1, 2] } });
    const info = run.info();
    expect(info.seed).toBe(3);
    expect(info.status).toBe('running');
    expect(info.endedAt).toBeNull();
    expect(info.meta.backend).toBe(tf.getBackend());
    expect(info.meta.tfjs).toBe('4.22.0');
    expect(JSON.stringify(info)).not.toContain(os.hostname());
    expect(run.resumed).toBe(false);
    expect(run.hasResults()).toBe(false);
    expect(run.readResults()).toBeUndefined();
  });

  it('appends metrics as JSON lines and survives a torn last line', () => {
    const run = createRunFolder(root, { name: 'm', config: {} });
    run.appendMetrics({ step: 1, loss: 0.5 });
    run.appendMetrics({ step: 2, loss: 0.25, time: 'fixed' });
    const text = fs.readFileSync(run.paths.metrics, 'utf8');
    expect(text.split('\n')).toHaveLength(3);
    // A kill in the middle of a write leaves half a line.
    fs.appendFileSync(run.paths.metrics, '{"step": 3, "lo');
    expect(run.readMetrics().map((r) => r.step)).toEqual([1, 2]);
    run.appendMetrics({ step: 3, loss: 0.125 });
    expect(run.readMetrics().map((r) => r.step)).toEqual([1, 2, 3]);
    expect(run.readMetrics()[1]?.time).toBe('fixed');
    expect(typeof run.readMetrics()[0]?.time).toBe('string');
    run.rewindMetrics((r) => (r.step as number) <= 2);
    expect(run.readMetrics().map((r) => r.step)).toEqual([1, 2]);
    fs.writeFileSync(run.paths.metrics, 'garbage\n{"step":1}\n');
    expect(() => run.readMetrics()).toThrow(DataFormatError);
  });

  it('resumes an existing folder with the same config, refuses a different one, and can overwrite', async () => {
    const a = createRunFolder(root, { name: 'r', config: { x: 1, y: { z: 'a' } }, seed: 1 });
    a.appendMetrics({ step: 1 });
    const b = createRunFolder(root, { name: 'r', config: { y: { z: 'a' }, x: 1 }, seed: 1 });
    expect(b.resumed).toBe(true);
    expect(b.readMetrics()).toHaveLength(1);
    expect(b.info().resumedAt).toHaveLength(1);
    const err = (() => {
      try {
        createRunFolder(root, { name: 'r', config: { x: 2, y: { z: 'b' } } });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).message).toMatch(/differs at x, y\.z/);
    expect(() => createRunFolder(root, { name: 'r', config: { x: 1 }, ifExists: 'error' })).toThrow(/already exists/);
    const c = createRunFolder(root, { name: 'r', config: { x: 3 }, ifExists: 'overwrite' });
    expect(c.resumed).toBe(false);
    expect(c.readMetrics()).toHaveLength(0);
  });

  it('rejects unsafe names', () => {
    for (const name of ['', '../x', 'a/../b', '.hidden', 'a b', 'a\\b']) {
      expect(() => createRunFolder(root, { name, config: {} })).toThrow(ConfigError);
    }
  });

  it('writes results with config and metadata, marks the run done, reopens', () => {
    const run = createRunFolder(root, { name: 'done', config: { k: 1 }, seed: 7 });
    run.writeResults({ accA: 0.9, accB: 0.5 });
    expect(run.hasResults()).toBe(true);
    const file = JSON.parse(fs.readFileSync(run.paths.results, 'utf8'));
    expect(file).toMatchObject({ format: 'promptkd-results', version: 1, name: 'done', results: { accA: 0.9, accB: 0.5 }, config: { k: 1 }, seed: 7 });
    expect(file.meta.node).toBe(process.version);
    expect(run.info().status).toBe('done');
    expect(run.info().endedAt).not.toBeNull();
    const again = openRunFolder(run.dir);
    expect(again.config).toEqual({ k: 1 });
    expect(again.readResults()).toEqual({ accA: 0.9, accB: 0.5 });
    expect(() => openRunFolder(root)).toThrow(DataFormatError);
    fs.writeFileSync(run.paths.results, '{"trunc');
    expect(() => again.readResults()).toThrow(DataFormatError);
  });

  it('markFailed records the error', () => {
    const run = createRunFolder(root, { name: 'f', config: {} });
    run.markFailed(new NonFiniteError('loss is NaN'));
    expect(run.info()).toMatchObject({ status: 'failed', error: 'NonFiniteError: loss is NaN' });
  });

  it('checkpoints through the run folder', async () => {
    const run = createRunFolder(root, { name: 'c', config: {} });
    const w = tf.ones([2]);
    await run.saveCheckpoint({ step: 5, tensors: { w }, state: { best: 0.5 } });
    w.dispose();
    const ck = await run.loadLatestCheckpoint<{ best: number }>();
    expect(ck?.state.best).toBe(0.5);
    expect(ck?.tensors.w?.shape).toEqual([2]);
    ck?.dispose();
    expect(fs.readdirSync(run.paths.checkpoints)).toContain('latest.json');
  });
});

describe('runMetadata', () => {
  it('records node, tfjs, backend and git sha (or null) without a host name', () => {
    const m = runMetadata();
    expect(m.node).toBe(process.version);
    expect(m.backend).toBe(tf.getBackend());
    expect(m.floatPrecision).toBe(32);
    expect(m.gitSha === null || /^[0-9a-f]{40}$/.test(m.gitSha)).toBe(true);
    expect(runMetadata({ cwd: os.tmpdir() }).gitSha).toBeNull();
    expect(Object.keys(m)).not.toContain('hostname');
  });
});

describe('NaN guards', () => {
  it('guardFinite names the step and the term', () => {
    expect(guardFinite({ ce: 1, kd: 0.5 }, { step: 3 })).toEqual({ ce: 1, kd: 0.5 });
    try {
      guardFinite({ ce: 1, kd: Number.NaN }, { step: 12 });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(NonFiniteError);
      expect((e as NonFiniteError).details).toMatchObject({ step: 12, term: 'kd' });
      expect((e as Error).message).toMatch(/term 'kd' at step 12 is NaN/);
    }
    expect(() => guardFinite({ bn: Number.POSITIVE_INFINITY }, { step: 0 })).toThrow(/term 'bn' at step 0 is Infinity/);
  });

  it('guardFiniteTensors finds a NaN/Inf weight in one read and leaks nothing', () => {
    const good = { a: tf.ones([3]), b: tf.tensor1d([1, 2], 'int32') };
    const before = tf.memory().numTensors;
    guardFiniteTensors(good, { step: 1 });
    expect(tf.memory().numTensors).toBe(before);
    const bad = { a: tf.ones([3]), w: tf.tensor1d([1, Number.NEGATIVE_INFINITY]) };
    expect(() => guardFiniteTensors(bad, { step: 4 })).toThrow(/weight term 'w' at step 4/);
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([good.a, good.b, bad.a, bad.w]);
  });
});
