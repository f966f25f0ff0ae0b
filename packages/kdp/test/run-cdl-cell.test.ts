import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError } from '@promptkd/core';
import { collectCdlRuns, kdpPresets, loadCdlData, runCdlCell, type KdpRunPreset } from '@promptkd/kdp/node';

// One smoke CDL cell (2 tasks × 2 classes, tiny ViTs pretrained in-app on 4 Fashion-MNIST images per class) through
// the library: run folders, a failing KD method that does not stop the others, resume from results.json.

const work = mkdtempSync(join(tmpdir(), 'kdp-run-cell-'));
const preset: KdpRunPreset = { ...kdpPresets.smoke, pretraining: { images: 40, epochs: 1, lr: 1e-3, weightDecay: 0, batchSize: 20 } };
const oldProgress = process.env.PROMPTKD_PROGRESS;
beforeAll(() => void (process.env.PROMPTKD_PROGRESS = 'silent'));
afterAll(() => {
  if (oldProgress === undefined) delete process.env.PROMPTKD_PROGRESS;
  else process.env.PROMPTKD_PROGRESS = oldProgress;
  rmSync(work, { recursive: true, force: true });
});

describe('loadCdlData', () => {
  it('cuts the pool and the stream as the preset says, and names the preset field when it cannot', async () => {
    const n0 = tf.memory().numTensors;
    const data = await loadCdlData(preset, { withPool: true });
    expect(data.counts).toEqual({ pool: 40, train: 32, test: 16 }); // pool 4/class × 10; stream 8/class × 4; test 4/class × 4
    expect(data.tasks.map((t) => t.train.x.shape)).toEqual([[16, 16, 16, 1], [16, 16, 16, 1]]);
    for (const t of data.tasks) tf.dispose([t.train.x, t.test.x]);
    expect(tf.memory().numTensors).toBe(n0);
    expect((await loadCdlData(preset, { withPool: false })).pool).toBeUndefined();
    await expect(loadCdlData({ ...preset, data: { ...preset.data, numTasks: 6 } }, { withPool: false })).rejects.toThrow(
      expect.objectContaining({ details: { field: 'data.numTasks' } }),
    );
    const tooBig = { ...preset, data: { ...preset.data, trainPerClass: 1 }, pretraining: { ...preset.pretraining!, images: 70_000 } };
    await expect(loadCdlData(tooBig, { withPool: true })).rejects.toThrow(/lower pretraining\.images/);
    await expect(loadCdlData(tooBig, { withPool: true })).rejects.toBeInstanceOf(ConfigError);
  });
});

describe('runCdlCell', () => {
  it('runs every KD method on one teacher into run folders, records failures, and resumes from results.json', async () => {
    const root = join(work, 'runs');
    const options = { preset, clMethod: 'coda', seed: 1, root, cacheDir: join(work, 'models'), quiet: true };
    const lines: string[] = [];
    await expect(runCdlCell({ ...options, kdMethods: ['kdp', 'nope', 'none'], log: (l) => lines.push(l) })).rejects.toThrow(/1 KD run\(s\) failed:\n.*nope/);
    const dir = (kd: string) => join(root, 'fashionMnist-2x2-t24-s16', 'coda', `${kd}__s1`);
    expect(existsSync(join(dir('nope'), 'results.json'))).toBe(false);
    expect(lines.some((l) => l.startsWith('fashionMnist-2x2-t24-s16/coda/nope__s1 FAILED'))).toBe(true);
    expect(existsSync(join(dir('teacher'), 'checkpoints'))).toBe(true); // the shared teacher's per-task checkpoints

    const found = collectCdlRuns(root);
    expect(found.map((f) => f.results.kdMethod)).toEqual(['none', 'kdp']);
    for (const { results: r } of found) {
      expect(r).toMatchObject({ dataset: 'fashionMnist', numTasks: 2, classesPerTask: 2, clMethod: 'coda', seed: 1, preset: 'smoke', images: { pool: 40, train: 32, test: 16 } });
      expect(r.student.accuracy.map((row) => row.length)).toEqual([1, 2]);
      expect(r.backbones.teacher).toMatchObject({ dim: 24, depth: 2 });
      expect(r.backbones.student.weights).toContain(join(work, 'models'));
    }
    // one teacher run for both (student alone records the teacher that KDP trained)
    expect(found[0]?.results.teacher).toEqual(found[1]?.results.teacher);
    expect(JSON.parse(readFileSync(join(dir('kdp'), 'config.json'), 'utf8'))).toMatchObject({ clMethod: 'coda', kdMethod: 'kdp', seed: 1, teacherWeights: null });

    const mtime = statSync(join(dir('kdp'), 'results.json')).mtimeMs;
    const again = await runCdlCell({ ...options, kdMethods: ['none', 'kdp'] });
    expect([...again.keys()].sort()).toEqual(['kdp', 'none']);
    expect(again.get('kdp')).toEqual(found[1]?.results);
    expect(statSync(join(dir('kdp'), 'results.json')).mtimeMs).toBe(mtime);
  }, 300_000);
});
