import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decode } from 'fast-png';
import type { FastifyInstance } from 'fastify';
import { Rng } from '@promptkd/core';
import { kiopTransform } from '@promptkd/datasets';
import { bits, makeHost, makePrompt, png, randomBytes, referenceLogits, startServer, toFloats, writePrompt, type HostFixture, type PromptFixture } from './fixtures.js';

// The real server on 127.0.0.1 over HTTP: list, predict equal to a KiOP run's own evaluation path, raw input,
// explain=canvas, and mixed-prompt batches equal to one request at a time, bit for bit.
const work = mkdtempSync(join(tmpdir(), 'promptkd-serve-'));
const promptsDir = join(work, 'prompts');
let host: HostFixture;
let prompts: PromptFixture[];
let batched: { app: FastifyInstance; url: string };
let single: { app: FastifyInstance; url: string };

interface PredictBody {
  prompt: string;
  predictions: { top: { index: number; label: string; probability: number }[]; logits: number[]; canvas?: string }[];
}

async function predictPng(url: string, id: string, images: Uint8Array[], shape: readonly [number, number, number], query = '') {
  const form = new FormData();
  images.forEach((b, i) => form.append('image', new Blob([png(b, shape)], { type: 'image/png' }), `img${i}.png`));
  const res = await fetch(`${url}/v1/prompts/${id}/predict${query}`, { method: 'POST', body: form });
  return { status: res.status, body: (await res.json()) as PredictBody };
}

beforeAll(async () => {
  host = await makeHost(work);
  prompts = [
    makePrompt('fashion-a', host, { seed: 1 }),
    makePrompt('fashion-b', host, { seed: 2 }),
    makePrompt('cifar-c', host, { task: 'cifar', seed: 3 }),
    makePrompt('fashion-wide', host, { seed: 4, canvas: 44 }),
  ];
  for (const p of prompts) writePrompt(promptsDir, p);
  batched = await startServer({ host: host.file, prompts: promptsDir, maxBatchSize: 64, maxWaitMs: 200, watch: false });
  single = await startServer({ host: host.file, prompts: promptsDir, maxBatchSize: 1, watch: false });
});

afterAll(async () => {
  await batched?.app.close();
  await single?.app.close();
  host?.model.dispose();
  for (const p of prompts ?? []) p.prompt.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('prompt server over HTTP', () => {
  it('lists the prompts with source dataset, class names, canvas sizes, parameter count and recorded Acc.B', async () => {
    const res = await fetch(`${batched.url}/v1/prompts`);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { host: { arch: string; sha256: string }; prompts: Record<string, unknown>[] };
    expect(body.host).toMatchObject({ arch: 'bnCnn', sha256: host.sha256 });
    expect(body.prompts.map((p) => p.id)).toEqual(['cifar-c', 'fashion-a', 'fashion-b', 'fashion-wide']);
    const a = body.prompts.find((p) => p.id === 'fashion-a')!;
    expect(a).toMatchObject({
      sourceDataset: 'fashionMnist',
      canvasSizes: [32, 36, 40],
      imageShape: [28, 28, 1],
      accuracy: { name: 'accB', value: 0.5, images: 30 },
      parameterCount: prompts[0]!.prompt.parameterCount(),
    });
    expect(a.classNames).toEqual(prompts[0]!.task.classNames);
    expect((body.prompts.find((p) => p.id === 'fashion-wide')!).canvasSizes).toEqual([32, 36, 44]);
  });

  it('predicts PNG uploads exactly as the KiOP evaluation path (SMB with the host in eval mode) does', async () => {
    for (const p of prompts) {
      const shape = p.task.imageShape;
      const bytes = randomBytes(3, shape, 7);
      const per = shape[0] * shape[1] * shape[2];
      const images = [0, 1, 2].map((i) => bytes.subarray(i * per, (i + 1) * per));
      const { status, body } = await predictPng(batched.url, p.id, images, shape, '?k=3');
      expect(status, JSON.stringify(body)).toBe(200);
      const expected = referenceLogits(host, p, toFloats(bytes), 3);
      expect(body.predictions).toHaveLength(3);
      body.predictions.forEach((pred, i) => {
        expect(bits(pred.logits)).toEqual(bits(expected[i]!));
        const argmax = expected[i]!.indexOf(Math.max(...expected[i]!));
        expect(pred.top).toHaveLength(3);
        expect(pred.top[0]!.index).toBe(argmax);
        expect(pred.top[0]!.label).toBe(p.task.classNames[argmax]);
        expect(pred.top[0]!.probability).toBeGreaterThanOrEqual(pred.top[1]!.probability);
      });
    }
  });

  it('takes raw float32 NHWC pixels and a single image body', async () => {
    const p = prompts[0]!;
    const bytes = randomBytes(2, p.task.imageShape, 11);
    const floats = toFloats(bytes);
    const res = await fetch(`${batched.url}/v1/prompts/${p.id}/predict?shape=2,28,28,1`, {
      method: 'POST',
      headers: { 'content-type': 'application/octet-stream' },
      body: new Uint8Array(floats.buffer),
    });
    const body = (await res.json()) as PredictBody;
    expect(res.status, JSON.stringify(body)).toBe(200);
    const expected = referenceLogits(host, p, floats, 2);
    expect(body.predictions.map((x) => bits(x.logits))).toEqual(expected.map(bits));

    const one = await fetch(`${batched.url}/v1/prompts/${p.id}/predict`, {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: png(bytes.subarray(0, 784), p.task.imageShape),
    });
    const oneBody = (await one.json()) as PredictBody;
    expect(one.status).toBe(200);
    expect(bits(oneBody.predictions[0]!.logits)).toEqual(bits(expected[0]!));
    expect(oneBody.predictions[0]!.top).toHaveLength(5);
  });

  it('returns the prompted canvas with ?explain=canvas', async () => {
    const p = prompts[0]!;
    const bytes = randomBytes(1, p.task.imageShape, 3);
    const { body } = await predictPng(batched.url, p.id, [bytes], p.task.imageShape, '?explain=canvas');
    const url = body.predictions[0]!.canvas!;
    expect(url).toMatch(/^data:image\/png;base64,/);
    const img = decode(Buffer.from(url.split(',')[1]!, 'base64'));
    expect([img.width, img.height, img.channels]).toEqual([40, 40, 3]);
    // the centre is the image (28→32 resized, grey→RGB), the ring is the prompt
    const expected = tf.tidy(() => {
      const x = kiopTransform('fashionMnist', 'test')(tf.tensor4d(toFloats(bytes), [1, 28, 28, 1]), Rng.fromSeed(0));
      return p.prompt.apply(x, { upTo: 2 }).dataSync();
    });
    let maxDiff = 0;
    for (let i = 0; i < img.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs((img.data[i] as number) - Math.round((expected[i] as number) * 255)));
    expect(maxDiff).toBeLessThanOrEqual(1);
  });

  it('answers a mixed batch of different prompts (two canvas sizes) exactly as one request at a time', async () => {
    const jobs = prompts.flatMap((p, i) =>
      [0, 1, 2].map((r) => ({ p, bytes: randomBytes(1 + (r % 2), p.task.imageShape, 100 + 10 * i + r) })),
    );
    const sendOne = (url: string, j: (typeof jobs)[number]) => {
      const per = j.p.task.imageShape.reduce((a: number, b: number) => a * b, 1);
      const images = Array.from({ length: j.bytes.length / per }, (_, k) => j.bytes.subarray(k * per, (k + 1) * per));
      return predictPng(url, j.p.id, images, j.p.task.imageShape);
    };
    const before = await metricValues(batched.url);
    const mixed = await Promise.all(jobs.map((j) => sendOne(batched.url, j)));
    const after = await metricValues(batched.url);
    const oneByOne: Awaited<ReturnType<typeof sendOne>>[] = [];
    for (const j of jobs) oneByOne.push(await sendOne(single.url, j));
    mixed.forEach((m, i) => {
      expect(m.status).toBe(200);
      expect(m.body.predictions.map((x) => bits(x.logits))).toEqual(oneByOne[i]!.body.predictions.map((x) => bits(x.logits)));
      expect(m.body.predictions.map((x) => x.top)).toEqual(oneByOne[i]!.body.predictions.map((x) => x.top));
    });
    // the concurrent requests really shared batches: fewer batches than requests, some with several prompts
    const batches = after.batchCount - before.batchCount;
    expect(batches).toBeGreaterThan(0);
    expect(batches).toBeLessThan(jobs.length);
    expect(after.multiPromptBatches - before.multiPromptBatches).toBeGreaterThan(0);
  });

  it('serves health, readiness and Prometheus metrics', async () => {
    expect(await (await fetch(`${batched.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${batched.url}/readyz`)).json()).toEqual({ status: 'ready', prompts: 4 });
    const text = await (await fetch(`${batched.url}/metrics`)).text();
    expect(text).toMatch(/promptkd_serve_requests_total\{route="\/v1\/prompts\/:id\/predict",method="POST",status="200"\} \d+/);
    expect(text).toMatch(/promptkd_serve_request_duration_seconds_bucket\{le="0.05",route="\/v1\/prompts\/:id\/predict"\} \d+/);
    expect(text).toMatch(/promptkd_serve_batch_images_bucket\{le="1"\} \d+/);
    expect(text).toMatch(/promptkd_serve_prompt_predictions_total\{prompt="fashion-a"\} \d+/);
    expect(text).toMatch(/promptkd_serve_prompts_loaded 4/);
  });

  it('leaves no tensor behind after requests', async () => {
    const p = prompts[1]!;
    const bytes = randomBytes(2, p.task.imageShape, 5);
    const per = 784;
    const go = () => predictPng(batched.url, p.id, [bytes.subarray(0, per), bytes.subarray(per)], p.task.imageShape, '?explain=canvas');
    await go();
    const before = tf.memory().numTensors;
    await Promise.all([go(), go(), predictPng(batched.url, 'cifar-c', [randomBytes(1, [32, 32, 3], 1)], [32, 32, 3])]);
    expect(tf.memory().numTensors).toBe(before);
  });
});

async function metricValues(url: string): Promise<{ batchCount: number; multiPromptBatches: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const num = (re: RegExp) => Number(re.exec(text)?.[1] ?? 0);
  const count = num(/^promptkd_serve_batch_prompts_count (\d+)/m);
  const single = num(/^promptkd_serve_batch_prompts_bucket\{le="1"\} (\d+)/m);
  return { batchCount: count, multiPromptBatches: count - single };
}
