import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { bits, makeHost, makePrompt, png, randomBytes, referenceLogits, startServer, toFloats, writePrompt, type HostFixture, type PromptFixture } from './fixtures.js';

// Prompts trained with the host's BN on batch statistics, served with their own BN statistics (bnMode
// promptStatistics): over HTTP on 127.0.0.1, equal to the direct eval-with-statistics forward, batched with eval-mode
// prompts, leak-free; batch-statistics artifacts without statistics and statistics that do not fit are refused.
const work = mkdtempSync(join(tmpdir(), 'promptkd-serve-bn-'));
const promptsDir = join(work, 'prompts');
let host: HostFixture;
let prompts: Record<string, PromptFixture>;
let batched: { app: FastifyInstance; url: string };
let single: { app: FastifyInstance; url: string };

interface PredictBody {
  predictions: { top: { index: number }[]; logits: number[] }[];
}

async function predict(url: string, p: PromptFixture, bytes: Uint8Array) {
  const per = p.task.imageShape.reduce((a: number, b: number) => a * b, 1);
  const form = new FormData();
  for (let i = 0; i < bytes.length / per; i++) {
    form.append('image', new Blob([png(bytes.subarray(i * per, (i + 1) * per), p.task.imageShape)], { type: 'image/png' }), `img${i}.png`);
  }
  const res = await fetch(`${url}/v1/prompts/${p.id}/predict`, { method: 'POST', body: form });
  return { status: res.status, body: (await res.json()) as PredictBody };
}

beforeAll(async () => {
  host = await makeHost(work);
  const list = [
    makePrompt('eval-a', host, { seed: 1 }),
    makePrompt('stats-b', host, { seed: 2, bnStatistics: true }),
    makePrompt('stats-c', host, { seed: 3, bnStatistics: true, task: 'cifar' }),
    makePrompt('train-no-stats', host, { seed: 4, bnTrainMode: true }),
    makePrompt('stats-wrong-channels', host, {
      seed: 5,
      bnStatistics: true,
      editStats: (s) => ({ ...s, layers: { ...s.layers, '5': { mean: s.layers['5']!.mean.slice(1), variance: s.layers['5']!.variance.slice(1) } } }),
    }),
    makePrompt('stats-missing-layer', host, { seed: 6, bnStatistics: true, editStats: (s) => ({ ...s, layers: { '1': s.layers['1']! } }) }),
  ];
  prompts = Object.fromEntries(list.map((p) => [p.id, p]));
  for (const p of list) writePrompt(promptsDir, p);
  batched = await startServer({ host: host.file, prompts: promptsDir, maxBatchSize: 64, maxWaitMs: 200, watch: false });
  single = await startServer({ host: host.file, prompts: promptsDir, maxBatchSize: 1, watch: false });
});

afterAll(async () => {
  await batched?.app.close();
  await single?.app.close();
  host?.model.dispose();
  for (const p of Object.values(prompts ?? {})) p.prompt.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('batch-statistics prompts with their own BN statistics', () => {
  it('are listed with bnMode and both accuracies; those without fitting statistics are refused with the way out', async () => {
    const body = (await (await fetch(`${batched.url}/v1/prompts`)).json()) as { prompts: Record<string, unknown>[] };
    expect(body.prompts.map((p) => p.id)).toEqual(['eval-a', 'stats-b', 'stats-c']);
    expect(body.prompts.find((p) => p.id === 'eval-a')).toMatchObject({ bnMode: 'eval' });
    expect(body.prompts.find((p) => p.id === 'eval-a')).not.toHaveProperty('servedAccuracy');
    expect(body.prompts.find((p) => p.id === 'stats-b')).toMatchObject({
      bnMode: 'promptStatistics',
      accuracy: { name: 'accB', value: 0.5, images: 30 },
      servedAccuracy: { name: 'accB', value: 0.4, images: 30 },
    });
    const status = (await (await fetch(`${batched.url}/v1/status`)).json()) as { refused: { file: string; reason: string; message: string }[] };
    const byFile = Object.fromEntries(status.refused.map((r) => [r.file.slice(promptsDir.length + 1), r]));
    expect(Object.fromEntries(Object.entries(byFile).map(([f, r]) => [f, r.reason]))).toEqual({
      'stats-missing-layer.safetensors': 'bad-bn-statistics',
      'stats-wrong-channels.safetensors': 'bad-bn-statistics',
      'train-no-stats.safetensors': 'host-bn-train-mode',
    });
    expect(byFile['train-no-stats.safetensors']!.message).toContain('promptkd kiop run');
    expect(byFile['stats-wrong-channels.safetensors']!.message).toMatch(/layer '5' has 8 channels and its statistics have 7/);
    expect(byFile['stats-missing-layer.safetensors']!.message).toMatch(/statistics are for BN layers \[1\] and the host has \[1, 5\]/);
  });

  it('predict equals the direct forward with the host in eval mode on the prompt statistics, bit for bit', async () => {
    for (const id of ['stats-b', 'stats-c']) {
      const p = prompts[id]!;
      const bytes = randomBytes(3, p.task.imageShape, 21);
      const { status, body } = await predict(batched.url, p, bytes);
      expect(status, JSON.stringify(body)).toBe(200);
      const expected = referenceLogits(host, p, toFloats(bytes), 3);
      expect(body.predictions.map((x) => bits(x.logits))).toEqual(expected.map(bits));
      // the statistics are used: the host's running statistics give other logits
      const plain = referenceLogits(host, { ...p, stats: undefined }, toFloats(bytes), 3);
      expect(bits(plain[0]!)).not.toEqual(bits(expected[0]!));
    }
  });

  it('a mixed batch of an eval-mode prompt and statistics prompts equals one request at a time', async () => {
    const jobs = ['eval-a', 'stats-b', 'stats-c', 'eval-a', 'stats-b'].map((id, i) => ({
      p: prompts[id]!,
      bytes: randomBytes(1 + (i % 2), prompts[id]!.task.imageShape, 300 + i),
    }));
    const mixed = await Promise.all(jobs.map((j) => predict(batched.url, j.p, j.bytes)));
    for (const [i, j] of jobs.entries()) {
      const one = await predict(single.url, j.p, j.bytes);
      expect(mixed[i]!.status).toBe(200);
      expect(mixed[i]!.body.predictions.map((x) => bits(x.logits))).toEqual(one.body.predictions.map((x) => bits(x.logits)));
      const count = j.bytes.length / j.p.task.imageShape.reduce((a: number, b: number) => a * b, 1);
      expect(mixed[i]!.body.predictions.map((x) => bits(x.logits))).toEqual(referenceLogits(host, j.p, toFloats(j.bytes), count).map(bits));
    }
    const text = await (await fetch(`${batched.url}/metrics`)).text();
    const count = Number(/^promptkd_serve_batch_prompts_count (\d+)/m.exec(text)?.[1] ?? 0);
    const singlePrompt = Number(/^promptkd_serve_batch_prompts_bucket\{le="1"\} (\d+)/m.exec(text)?.[1] ?? 0);
    expect(count - singlePrompt).toBeGreaterThan(0);
  });

  it('leaves no tensor behind after requests', async () => {
    const b = prompts['stats-b']!;
    const go = () => predict(batched.url, b, randomBytes(2, b.task.imageShape, 5));
    await go();
    const before = tf.memory().numTensors;
    await Promise.all([go(), go(), predict(batched.url, prompts['eval-a']!, randomBytes(1, [28, 28, 1], 1))]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
