import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, truncateSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { participantPresets, prepareParticipant, type ParticipantPreset } from '@promptkd/kiop/node';

// Issue "Reliability: resumable runs": a host/source pretraining killed after a partial checkpoint resumes (in the
// same process here) and caches weights bit-identical to an uninterrupted pretraining; a corrupt partial
// checkpoint is skipped (older one) or, when none is good, pretraining starts over.

const work = mkdtempSync(join(tmpdir(), 'promptkd-pretrain-resume-'));
// smoke: 60 MNIST images, batch 16 → 4 steps per epoch; 2 epochs, a checkpoint every 3 steps and at epoch ends:
// saves at step 3 (epoch 0), 4 (end of epoch 0), 6 (epoch 1), 8 (end of epoch 1).
const preset: ParticipantPreset = { ...participantPresets.smoke, pretrain: { ...participantPresets.smoke.pretrain, epochs: 2 } };
const kill = new Error('simulated kill');
let progressEnv: string | undefined;

beforeAll(() => {
  progressEnv = process.env.PROMPTKD_PROGRESS;
  process.env.PROMPTKD_PROGRESS = 'silent';
});
afterAll(() => {
  if (progressEnv === undefined) delete process.env.PROMPTKD_PROGRESS;
  else process.env.PROMPTKD_PROGRESS = progressEnv;
  rmSync(work, { recursive: true, force: true });
});

/** Prepares the MNIST participant in `cacheDir`; `killAt` throws after that many partial checkpoints. */
async function prepare(cacheDir: string, killAt?: number, corrupt?: (partial: string) => void): Promise<string[]> {
  const lines: string[] = [];
  let saves = 0;
  const p = await prepareParticipant({
    dataset: 'mnist', preset, seed: 7, cacheDir, log: (l) => lines.push(l),
    checkpoint: {
      everySteps: 3,
      afterSave: () => {
        if (++saves === killAt) {
          corrupt?.(join(cacheDir, readdirSync(cacheDir).find((f) => f.endsWith('.partial')) as string));
          throw kill;
        }
      },
    },
  });
  p.model.dispose();
  return lines;
}

const cached = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.safetensors'));
const weights = (dir: string) => readFileSync(join(dir, cached(dir)[0] as string));

describe('prepareParticipant: pretraining killed and resumed', () => {
  let reference: Buffer;

  it('an uninterrupted pretraining caches the weights and removes its partial checkpoint', async () => {
    const dir = join(work, 'straight');
    const n0 = tf.memory().numTensors;
    const lines = await prepare(dir);
    expect(lines.some((l) => l.startsWith('pretraining mnist bnCnn'))).toBe(true);
    expect(readdirSync(dir)).toEqual(cached(dir));
    reference = weights(dir);
    expect(tf.memory().numTensors).toBe(n0);
  });

  for (const [killAt, epoch, step] of [[1, 0, 3], [2, 1, 4]] as const) {
    it(`killed after checkpoint ${killAt} (epoch ${epoch}, step ${step}) resumes to bit-identical weights`, async () => {
      const dir = join(work, `kill-${killAt}`);
      const n0 = tf.memory().numTensors;
      await expect(prepare(dir, killAt)).rejects.toBe(kill);
      expect(cached(dir)).toEqual([]);
      expect(tf.memory().numTensors).toBe(n0);
      const lines = await prepare(dir);
      expect(lines).toContain(`resuming pretraining of mnist bnCnn at epoch ${epoch}, step ${step}`);
      expect(weights(dir).equals(reference)).toBe(true);
      expect(readdirSync(dir).some((f) => f.endsWith('.partial'))).toBe(false);
      expect(tf.memory().numTensors).toBe(n0);
    });
  }

  it('skips a corrupt newest partial checkpoint and resumes from the older one', async () => {
    const dir = join(work, 'corrupt-newest');
    // killed after the 3rd save (step 6); the newest checkpoint's tensors get truncated
    const truncateNewest = (partial: string) => {
      const files = readdirSync(partial).filter((f) => f.endsWith('.safetensors')).sort();
      truncateSync(join(partial, files.at(-1) as string), 100);
    };
    await expect(prepare(dir, 3, truncateNewest)).rejects.toBe(kill);
    const lines = await prepare(dir);
    expect(lines.some((l) => l.startsWith('Skipping checkpoint'))).toBe(true);
    expect(lines).toContain('resuming pretraining of mnist bnCnn at epoch 1, step 4');
    expect(weights(dir).equals(reference)).toBe(true);
  });

  it('starts over when no partial checkpoint is good', async () => {
    const dir = join(work, 'corrupt-all');
    const truncateAll = (partial: string) => {
      for (const f of readdirSync(partial).filter((n) => n.endsWith('.safetensors'))) truncateSync(join(partial, f), 10);
    };
    await expect(prepare(dir, 3, truncateAll)).rejects.toBe(kill);
    const lines = await prepare(dir);
    expect(lines.some((l) => l.startsWith('cannot resume from the partial checkpoint'))).toBe(true);
    expect(lines.some((l) => l.startsWith('pretraining mnist bnCnn'))).toBe(true);
    expect(weights(dir).equals(reference)).toBe(true);
    expect(existsSync(join(dir, `${cached(dir)[0]}.partial`))).toBe(false);
  });
});
