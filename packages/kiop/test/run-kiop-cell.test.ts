import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  kiopConfigSchema,
  kiopPresets,
  participantPresets,
  prepareParticipant,
  runKiopCell,
  type KiopPromptArtifactsInput,
  type PreparedParticipant,
} from '@promptkd/kiop/node';

// One KiOP cell into a run folder, as `promptkd kiop run` runs it (the app's kill-and-resume and serve tests run the
// same function through the CLI): results.json, metrics, checkpoints and the prompt image; the artifact writer gets
// the trained prompt; a finished cell is not trained again.
const work = mkdtempSync(join(tmpdir(), 'promptkd-kiop-cell-'));
const preset = participantPresets.smoke;
let host: PreparedParticipant;
let source: PreparedParticipant;
let progressEnv: string | undefined;

beforeAll(async () => {
  progressEnv = process.env.PROMPTKD_PROGRESS;
  process.env.PROMPTKD_PROGRESS = 'silent';
  host = await prepareParticipant({ dataset: 'mnist', preset, seed: 0, cacheDir: join(work, 'models') });
  source = await prepareParticipant({ dataset: 'fashionMnist', preset, seed: 0, cacheDir: join(work, 'models') });
});
afterAll(() => {
  host?.model.dispose();
  source?.model.dispose();
  if (progressEnv === undefined) delete process.env.PROMPTKD_PROGRESS;
  else process.env.PROMPTKD_PROGRESS = progressEnv;
  rmSync(work, { recursive: true, force: true });
});

describe('runKiopCell', () => {
  it('trains a cell into its run folder, hands the trained prompt to the artifact writer, and returns a finished cell as is', async () => {
    const config = kiopConfigSchema.parse({ ...kiopPresets.smoke, variant: 'kiopT', seed: 1 });
    const calls: KiopPromptArtifactsInput[] = [];
    const writePromptArtifacts = (input: KiopPromptArtifactsInput) => {
      calls.push(input);
      expect(input.prompt.parameterCount().stored).toBeGreaterThan(0); // not disposed yet
      return Promise.resolve(['prompts/fashionMnist.safetensors']);
    };
    const n0 = tf.memory().numTensors;
    const name = 'mnist__fashionMnist/kiopT__s1';
    const { folder, results } = await runKiopCell({ root: work, name, config, preset, host, sources: [source], quiet: true, writePromptArtifacts });
    expect(tf.memory().numTensors).toBe(n0);
    expect(folder.dir).toBe(join(work, name));
    expect(results.epochs).toHaveLength(config.epochs);
    expect(Object.keys(results.final).sort()).toEqual(['accA', 'accB', 'predictedClassesB']);
    expect(results.host).toEqual({ dataset: 'mnist', cleanAccuracy: host.cleanAccuracy, weights: host.weights, data: host.data });
    expect(results.sources).toEqual([{ dataset: 'fashionMnist', cleanAccuracy: source.cleanAccuracy, weights: source.weights, data: source.data }]);
    expect(results.promptParameters?.stored).toBeGreaterThan(0);
    expect(results.promptArtifacts).toEqual(['prompts/fashionMnist.safetensors']);
    expect(results.served).toBeUndefined(); // eval-mode host: no prompt BN statistics
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ runDir: folder.dir, cell: name, config, final: results.final });
    expect(calls[0]!.mappings).toHaveLength(1);
    expect(JSON.parse(readFileSync(join(folder.dir, 'results.json'), 'utf8')).results).toEqual(JSON.parse(JSON.stringify(results)));
    expect(existsSync(join(folder.dir, 'figures', 'prompt.png'))).toBe(true);
    // the synthetic bank as a picture: one row per source class (K_B = 10) of 32-px images, scale 2, gap 1
    const bank = readFileSync(join(folder.dir, 'figures', 'bank-B.png'));
    expect(bank.subarray(1, 4).toString()).toBe('PNG');
    expect(bank.readUInt32BE(20)).toBe((10 * 33 - 1) * 2); // IHDR height
    expect(existsSync(join(folder.dir, 'figures', 'bank-A.png'))).toBe(false); // KiOP-T synthesises no host bank
    expect(JSON.parse(readFileSync(join(folder.dir, 'config.json'), 'utf8'))).toEqual({ kiop: config, bench: preset, host: 'mnist', sources: ['fashionMnist'] });

    const again = await runKiopCell({ root: work, name, config, preset, host, sources: [source], quiet: true, writePromptArtifacts });
    expect(again.results).toEqual(JSON.parse(JSON.stringify(results)));
    expect(calls).toHaveLength(1);
  });

  it('Vanilla-KD trains no prompt: no artifacts, no prompt image, no prompt parameters', async () => {
    const config = kiopConfigSchema.parse({ ...kiopPresets.smoke, variant: 'vanillaKd', seed: 1 });
    let called = false;
    const { folder, results } = await runKiopCell({
      root: work, name: 'mnist__fashionMnist/vanillaKd__s1', config, preset, host, sources: [source], quiet: true,
      writePromptArtifacts: () => ((called = true), Promise.resolve([])),
    });
    expect(called).toBe(false);
    expect(results.promptParameters).toBeUndefined();
    expect(results.promptArtifacts).toBeUndefined();
    expect(existsSync(join(folder.dir, 'figures', 'prompt.png'))).toBe(false);
  });
});
