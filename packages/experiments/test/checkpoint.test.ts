import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CheckpointError, Rng } from '@promptkd/core';
import { expectNoTensorLeak } from '@promptkd/testing';
import {
  StorageError,
  assignVariables,
  listCheckpoints,
  loadLatestCheckpoint,
  saveCheckpoint,
} from '@promptkd/experiments';

let dir: string;
beforeEach(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pkd-ckpt-'));
});
afterEach(() => {
  fs.chmodSync(dir, 0o755);
  fs.rmSync(dir, { recursive: true, force: true });
});

const warnings: string[] = [];
const warn = (m: string): void => {
  warnings.push(m);
};

async function saveSimple(step: number, value: number, extra: Parameters<typeof saveCheckpoint>[2] = {}) {
  const w = tf.fill([2, 3], value);
  const idx = tf.tensor1d([step, 2, 3], 'int32');
  const mask = tf.tensor1d([true, false], 'bool');
  try {
    return await saveCheckpoint(dir, { step, epoch: step / 10, tensors: { w, idx, mask }, state: { rng: Rng.fromSeed(step).getState(), note: `s${step}` } }, extra);
  } finally {
    tf.dispose([w, idx, mask]);
  }
}

describe('saveCheckpoint / loadLatestCheckpoint', () => {
  it('round-trips tensors, counters and JSON state; keeps the newest two; writes the latest pointer', async () => {
    for (let s = 1; s <= 4; s++) await saveSimple(s * 10, s);
    const names = fs.readdirSync(dir).sort();
    expect(names).toEqual(['ckpt-00000003.json', 'ckpt-00000003.safetensors', 'ckpt-00000004.json', 'ckpt-00000004.safetensors', 'latest.json']);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'latest.json'), 'utf8')).checkpoint).toBe('ckpt-00000004');
    const ck = await loadLatestCheckpoint<{ note: string; rng: unknown }>(dir, { warn });
    expect(ck).toBeDefined();
    if (!ck) return;
    expect([ck.step, ck.epoch, ck.seq, ck.name]).toEqual([40, 4, 4, 'ckpt-00000004']);
    expect(ck.state.note).toBe('s40');
    expect(ck.state.rng).toEqual(Rng.fromSeed(40).getState());
    expect(Array.from(await ck.tensors.w!.data())).toEqual(new Array(6).fill(4));
    expect(ck.tensors.w!.shape).toEqual([2, 3]);
    expect(ck.tensors.idx!.dtype).toBe('int32');
    expect(Array.from(await ck.tensors.idx!.data())).toEqual([40, 2, 3]);
    expect(ck.tensors.mask!.dtype).toBe('bool');
    expect(Array.from(await ck.tensors.mask!.data())).toEqual([1, 0]);
    ck.dispose();
    expect((await listCheckpoints(dir)).map((c) => c.step)).toEqual([30, 40]);
  });

  it('returns undefined for an empty or missing directory', async () => {
    expect(await loadLatestCheckpoint(dir)).toBeUndefined();
    expect(await loadLatestCheckpoint(path.join(dir, 'nope'))).toBeUndefined();
  });

  it('a crash between the temp write and the rename leaves the previous checkpoint loadable', async () => {
    await saveSimple(1, 1);
    const crash = new Error('simulated crash');
    await expect(
      saveSimple(2, 2, {
        beforeRename: (_tmp, file) => {
          if (file.endsWith('.safetensors')) throw crash;
        },
      }),
    ).rejects.toBe(crash);
    // What a real kill leaves behind: a complete temp file that was never renamed.
    fs.writeFileSync(path.join(dir, 'ckpt-00000002.safetensors.tmp-999-dead'), 'garbage');
    const ck = await loadLatestCheckpoint(dir, { warn });
    expect(ck?.step).toBe(1);
    ck?.dispose();
    // The next save sweeps the stale temp file and continues the sequence.
    await saveSimple(3, 3);
    expect(fs.readdirSync(dir).some((n) => n.includes('.tmp-'))).toBe(false);
    const ck3 = await loadLatestCheckpoint(dir, { warn });
    expect(ck3?.step).toBe(3);
    ck3?.dispose();
  });

  it('a crash after the tensors but before the manifest leaves the previous checkpoint', async () => {
    await saveSimple(1, 1);
    await expect(
      saveSimple(2, 2, {
        beforeRename: (_tmp, file) => {
          if (/ckpt-\d+\.json$/.test(file)) throw new Error('simulated crash');
        },
      }),
    ).rejects.toThrow('simulated crash');
    // Simulate the kill case (no cleanup ran): an orphan tensors file without manifest.
    fs.copyFileSync(path.join(dir, 'ckpt-00000001.safetensors'), path.join(dir, 'ckpt-00000002.safetensors'));
    const ck = await loadLatestCheckpoint(dir, { warn });
    expect(ck?.step).toBe(1);
    ck?.dispose();
  });

  it('falls back to the previous good checkpoint when the latest is corrupt (truncated, bit flip, bad manifest)', async () => {
    const corruptions: Array<(d: string) => void> = [
      (d) => fs.truncateSync(path.join(d, 'ckpt-00000002.safetensors'), 40),
      (d) => {
        const f = path.join(d, 'ckpt-00000002.safetensors');
        const b = fs.readFileSync(f);
        b[b.length - 3] = (b[b.length - 3] as number) ^ 0xff;
        fs.writeFileSync(f, b);
      },
      (d) => fs.writeFileSync(path.join(d, 'ckpt-00000002.json'), '{"format":"promptkd-checkp'),
      (d) => fs.rmSync(path.join(d, 'ckpt-00000002.safetensors')),
    ];
    for (const corrupt of corruptions) {
      fs.rmSync(dir, { recursive: true, force: true });
      fs.mkdirSync(dir);
      await saveSimple(1, 1);
      await saveSimple(2, 2);
      corrupt(dir);
      warnings.length = 0;
      const ck = await loadLatestCheckpoint(dir, { warn });
      expect(ck?.step).toBe(1);
      expect(Array.from(await ck!.tensors.w!.data())).toEqual(new Array(6).fill(1));
      ck?.dispose();
      expect(warnings.length).toBeGreaterThan(0);
      expect(warnings[0]).toContain('ckpt-00000002');
    }
  });

  it('throws CheckpointError when every checkpoint is corrupt, and on a layout-version mismatch', async () => {
    await saveSimple(1, 1);
    fs.truncateSync(path.join(dir, 'ckpt-00000001.safetensors'), 10);
    await expect(loadLatestCheckpoint(dir, { warn })).rejects.toBeInstanceOf(CheckpointError);

    await saveSimple(2, 2);
    const mf = path.join(dir, 'ckpt-00000002.json');
    fs.writeFileSync(mf, JSON.stringify({ ...JSON.parse(fs.readFileSync(mf, 'utf8')), version: 2 }));
    const err = await loadLatestCheckpoint(dir, { warn }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).message).toMatch(/layout version 2.*reads version 1/);
  });

  it('disk-full and permission errors give StorageError and leave the previous checkpoint byte-identical', async () => {
    await saveSimple(1, 1);
    const before = Object.fromEntries(fs.readdirSync(dir).map((n) => [n, fs.readFileSync(path.join(dir, n)).toString('base64')]));
    for (const code of ['ENOSPC', 'EACCES']) {
      const failing = async (file: string, data: Uint8Array | string) => {
        // Half the bytes land, then the device gives up.
        fs.writeFileSync(file, typeof data === 'string' ? data.slice(0, 5) : data.subarray(0, 5));
        throw Object.assign(new Error(`${code}: simulated`), { code });
      };
      const err = await saveSimple(2, 2, { writeFile: failing }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(StorageError);
      expect((err as StorageError).details.errno).toBe(code);
      expect((err as StorageError).message).toMatch(code === 'ENOSPC' ? /disk is full/ : /permission denied/);
      const after = Object.fromEntries(fs.readdirSync(dir).map((n) => [n, fs.readFileSync(path.join(dir, n)).toString('base64')]));
      expect(after).toEqual(before);
    }
    const ck = await loadLatestCheckpoint(dir, { warn });
    expect(ck?.step).toBe(1);
    ck?.dispose();
  });

  it.skipIf(process.getuid?.() === 0)('a read-only checkpoint directory gives StorageError (EACCES)', async () => {
    await saveSimple(1, 1);
    fs.chmodSync(dir, 0o555);
    await expect(saveSimple(2, 2)).rejects.toBeInstanceOf(StorageError);
    fs.chmodSync(dir, 0o755);
    const ck = await loadLatestCheckpoint(dir, { warn });
    expect(ck?.step).toBe(1);
    ck?.dispose();
  });

  it('validates counters and state', async () => {
    await expect(saveCheckpoint(dir, { step: -1 })).rejects.toBeInstanceOf(CheckpointError);
    await expect(saveCheckpoint(dir, { step: 1.5 })).rejects.toBeInstanceOf(CheckpointError);
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    await expect(saveCheckpoint(dir, { step: 1, state: cyclic })).rejects.toBeInstanceOf(CheckpointError);
  });

  it('save, load and dispose leave no tensors behind; assignVariables checks names and shapes', async () => {
    const v = { a: tf.variable(tf.zeros([2, 2]), true, 'ckpt-test-a'), b: tf.variable(tf.ones([3]), true, 'ckpt-test-b') };
    await expectNoTensorLeak(async () => {
      await saveCheckpoint(dir, { step: 1, tensors: v });
      const ck = await loadLatestCheckpoint(dir, { warn });
      ck?.dispose();
    }, { label: 'checkpoint round trip' });
    const t = { a: tf.fill([2, 2], 7), b: tf.fill([3], 5) };
    assignVariables(v, t);
    expect(Array.from(await v.a.data())).toEqual([7, 7, 7, 7]);
    expect(() => assignVariables(v, { a: t.a })).toThrow(/missing \[b\]/);
    assignVariables(v, { a: t.a }, { strict: false });
    const wrong = tf.zeros([4]);
    expect(() => assignVariables(v, { a: t.a, b: wrong })).toThrow(/mismatched b/);
    tf.dispose([t.a, t.b, wrong, v.a, v.b]);
  });
});

describe('optimizer state in checkpoints', () => {
  const x = [0.5, -1, 2];
  const loss = (w1: tf.Variable, w2: tf.Variable) => () =>
    tf.tidy(() => tf.sum(tf.square(tf.sub(tf.add(tf.mul(w1, tf.tensor1d(x)), tf.mul(w2, w2)), 1))) as tf.Scalar);

  async function run(makeOpt: () => tf.Optimizer, reverseOrderOnResume: boolean) {
    const w1 = tf.variable(tf.tensor1d([0.1, 0.2, 0.3]), true, `w1-${Math.random()}`);
    const w2 = tf.variable(tf.tensor1d([1, -1, 0.5]), true, `w2-${Math.random()}`);
    const opt = makeOpt();
    for (let i = 0; i < 3; i++) opt.minimize(loss(w1, w2), false, [w1, w2])?.dispose();
    // Slots are stored under the logical names w1/w2, not the engine's variable names.
    await saveCheckpoint(dir, { step: 3, tensors: { w1, w2 }, optimizers: { main: { optimizer: opt, variables: { w1, w2 } } } });
    for (let i = 0; i < 3; i++) opt.minimize(loss(w1, w2), false, [w1, w2])?.dispose();
    const straight = [...(await w1.data()), ...(await w2.data())];

    // Resume in "another process": fresh variables (other engine names) and optimizer, restored from disk.
    const r1 = tf.variable(tf.zeros([3]), true, `r1-${Math.random()}`);
    const r2 = tf.variable(tf.zeros([3]), true, `r2-${Math.random()}`);
    const opt2 = makeOpt();
    const ck = await loadLatestCheckpoint(dir, { warn });
    if (!ck) throw new Error('no checkpoint');
    const meta = ck.optimizers.main!.meta;
    assignVariables({ w1: r1, w2: r2 }, ck.tensors);
    // The resumed trainer may hand gradients over in another order: slots follow by name.
    const order = reverseOrderOnResume ? [r2, r1] : [r1, r2];
    await ck.restoreOptimizer('main', opt2, { variables: reverseOrderOnResume ? { w2: r2, w1: r1 } : { w1: r1, w2: r2 } });
    ck.dispose();
    for (let i = 0; i < 3; i++) opt2.minimize(loss(r1, r2), false, order)?.dispose();
    const resumed = [...(await r1.data()), ...(await r2.data())];
    tf.dispose([w1, w2, r1, r2]);
    opt.dispose();
    opt2.dispose();
    return { straight, resumed, meta };
  }

  for (const [label, make] of [
    ['SGD momentum 0.9', () => tf.train.momentum(0.05, 0.9)],
    ['Adam', () => tf.train.adam(0.05)],
    ['plain SGD', () => tf.train.sgd(0.05)],
  ] as const) {
    it(`${label}: a restored optimizer continues exactly like the uninterrupted one`, async () => {
      const { straight, resumed, meta } = await run(make, false);
      expect(resumed).toEqual(straight);
      expect(meta.iterations).toBe(3);
      if (label === 'SGD momentum 0.9') expect(meta.weightNames).toEqual(['w1/momentum', 'w2/momentum']);
      if (label === 'Adam') expect(meta.weightNames).toEqual(['w1/m', 'w2/m', 'w1/v', 'w2/v']);
      if (label !== 'plain SGD') {
        const again = await run(make, true);
        expect(again.resumed).toEqual(again.straight);
      }
    });
  }

  it('LoadedCheckpoint.restoreOptimizer restores by key; wrong class or unknown key throws CheckpointError; no leaks', async () => {
    const w = tf.variable(tf.tensor1d([1, 2, 3]), true, 'opt-leak-w');
    const opt = tf.train.adam(0.1);
    const f = () => tf.tidy(() => tf.sum(tf.square(w)) as tf.Scalar);
    opt.minimize(f, false, [w])?.dispose();
    await saveCheckpoint(dir, { step: 1, tensors: { w }, optimizers: { adam: opt } });
    const ck = await loadLatestCheckpoint(dir, { warn });
    if (!ck) throw new Error('no checkpoint');
    // The optimizer already has slots: restoring replaces and frees them.
    await expectNoTensorLeak(() => ck.restoreOptimizer('adam', opt), { warmup: true, label: 'restoreOptimizer' });
    await expect(ck.restoreOptimizer('sgd', opt)).rejects.toBeInstanceOf(CheckpointError);
    const mom = tf.train.momentum(0.1, 0.9);
    await expect(ck.restoreOptimizer('adam', mom)).rejects.toThrow(/Adam state but the optimizer is a Momentum/);
    const fresh = tf.train.adam(0.1);
    await expect(ck.restoreOptimizer('adam', fresh, { variableOrder: ['other'] })).rejects.toThrow(/no state for \[other\]/);
    ck.dispose();
    fresh.dispose();
    tf.dispose(w);
    opt.dispose();
    mom.dispose();
  });
});
