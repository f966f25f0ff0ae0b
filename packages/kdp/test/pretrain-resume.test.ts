import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadDataset, takePerClass, type ImageDataset } from '@promptkd/datasets/node';
import { kdpPresets, prepareCdlBackbone, type KdpRunPreset } from '@promptkd/kdp/node';

// Issue "Reliability: resumable runs": a backbone pretraining killed after a partial checkpoint resumes and caches
// weights bit-identical to an uninterrupted pretraining (smoke student ViT, 40 Fashion-MNIST images, 2 × 2 steps).

const work = mkdtempSync(join(tmpdir(), 'kdp-pretrain-resume-'));
const preset: KdpRunPreset = { ...kdpPresets.smoke, pretraining: { images: 40, epochs: 2, lr: 1e-3, weightDecay: 0, batchSize: 20 } };
const kill = new Error('simulated kill');
let pool: ImageDataset;
let test: ImageDataset;
const oldProgress = process.env.PROMPTKD_PROGRESS;

beforeAll(async () => {
  process.env.PROMPTKD_PROGRESS = 'silent';
  pool = takePerClass(await loadDataset('fashionMnist', { split: 'train' }), 4);
  test = takePerClass(await loadDataset('fashionMnist', { split: 'test' }), 2);
});
afterAll(() => {
  if (oldProgress === undefined) delete process.env.PROMPTKD_PROGRESS;
  else process.env.PROMPTKD_PROGRESS = oldProgress;
  rmSync(work, { recursive: true, force: true });
});

async function prepare(cacheDir: string, killAt?: number): Promise<string[]> {
  const lines: string[] = [];
  let saves = 0;
  const b = await prepareCdlBackbone({
    role: 'student', preset, pool, test, cacheDir, quiet: true, log: (l) => lines.push(l),
    checkpoint: { everySteps: 1, afterSave: () => { if (++saves === killAt) throw kill; } },
  });
  b.vit.dispose();
  return lines;
}

const weights = (dir: string) => readFileSync(join(dir, readdirSync(dir).find((f) => f.endsWith('.safetensors')) as string));

describe('CDL backbone pretraining: kill and resume', () => {
  it('resumes a pretraining killed mid-epoch to bit-identical cached weights', async () => {
    const n0 = tf.memory().numTensors;
    await prepare(join(work, 'straight'));
    const dir = join(work, 'killed');
    await expect(prepare(dir, 1)).rejects.toBe(kill); // after step 1 of 4 (epoch 0)
    expect(readdirSync(dir).filter((f) => f.endsWith('.safetensors'))).toEqual([]);
    // The killed process's training seconds, as its checkpoint recorded them.
    const partial = join(dir, readdirSync(dir).find((f) => f.endsWith('.partial')) as string);
    const manifest = readdirSync(partial).find((f) => /^ckpt-\d+\.json$/.test(f)) as string;
    const killedSeconds = (JSON.parse(readFileSync(join(partial, manifest), 'utf8')) as { state: { train: { elapsedSeconds: number } } }).state.train.elapsedSeconds;
    expect(killedSeconds).toBeGreaterThan(0);
    const lines = await prepare(dir);
    expect(lines).toContain('resuming pretraining of fashionMnist student D=' + preset.student.dim + ' at epoch 0, step 1');
    expect(weights(dir).equals(weights(join(work, 'straight')))).toBe(true);
    // The sidecar's pretraining time spans both processes: at least what the killed one had checkpointed.
    const sidecar = (d: string): { seconds: number } => JSON.parse(readFileSync(join(d, readdirSync(d).find((f) => f.endsWith('.json')) as string), 'utf8'));
    expect(sidecar(dir).seconds).toBeGreaterThan(killedSeconds);
    expect(readdirSync(dir).some((f) => f.endsWith('.partial'))).toBe(false);
    expect(tf.memory().numTensors).toBe(n0);
  });
});
