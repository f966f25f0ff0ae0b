import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, NonFiniteError } from '@promptkd/core';
import { decodePromptArtifact } from '@promptkd/visual-prompt';
import { loadHost, MixedBatcher, RequestAbortedError, ServedPrompt, ServerBusyError, type LoadedHost } from '../src/index.js';
import { bits, makeHost, makePrompt, randomBytes, referenceLogits, toFloats, type HostFixture, type PromptFixture } from './fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'promptkd-serve-batcher-'));
let fixture: HostFixture;
let host: LoadedHost;
let fixtures: PromptFixture[];
let served: ServedPrompt[];

function serve(p: PromptFixture): ServedPrompt {
  return ServedPrompt.create(p.id, `${p.id}.safetensors`, decodePromptArtifact(p.bytes), host);
}

const image = (p: ServedPrompt, seed: number, count = 1) => toFloats(randomBytes(count, p.imageShape, seed));

beforeAll(async () => {
  fixture = await makeHost(work);
  host = await loadHost(fixture.file);
  fixtures = [makePrompt('a', fixture, { seed: 1 }), makePrompt('b', fixture, { seed: 2, task: 'cifar' }), makePrompt('c', fixture, { seed: 3, canvas: 44 })];
  served = fixtures.map(serve);
});

afterAll(() => {
  for (const s of served ?? []) s.retire();
  for (const p of fixtures ?? []) p.prompt.dispose();
  host?.model.dispose();
  fixture?.model.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('MixedBatcher', () => {
  it('one host forward per canvas size for a mixed batch, equal bit for bit to one request at a time', async () => {
    const infos: { images: number; prompts: number; forwards: number }[] = [];
    const batcher = new MixedBatcher(host.model, { maxBatchSize: 64, maxWaitMs: 20 }, (i) => infos.push(i));
    const jobs = served.flatMap((p, i) => [1, 2, 1].map((count, r) => ({ prompt: p, count, images: image(p, 10 * i + r, count) })));
    const before = tf.memory().numTensors;
    const results = await Promise.all(jobs.map((j) => batcher.predict(j)));
    expect(tf.memory().numTensors).toBe(before);
    expect(infos).toEqual([expect.objectContaining({ images: 12, requests: 9, prompts: 3, forwards: 2 })]);
    jobs.forEach((j, i) => {
      const expected = referenceLogits(fixture, fixtures[served.indexOf(j.prompt)]!, j.images, j.count);
      expect(results[i]!.map((r) => bits(r.logits))).toEqual(expected.map(bits));
    });
  });

  it('prompts with their own BN statistics share one host forward, each row on its own statistics, bit-equal to one at a time', async () => {
    const withStats = [11, 12, 13].map((seed, i) => makePrompt(`s${i}`, fixture, { seed, bnStatistics: true, task: i === 1 ? 'cifar' : 'fashion' }));
    const stat = withStats.map(serve);
    const infos: { images: number; prompts: number; forwards: number }[] = [];
    const batcher = new MixedBatcher(host.model, { maxBatchSize: 64, maxWaitMs: 20 }, (i) => infos.push(i));
    // with an eval-mode prompt of the same canvas size: it runs in a forward of its own, on the running statistics
    const jobs = [...stat, served[0]!, stat[0]!].map((p, i) => ({ prompt: p, count: 1 + (i % 2), images: image(p, 40 + i, 1 + (i % 2)) }));
    const before = tf.memory().numTensors;
    const results = await Promise.all(jobs.map((j) => batcher.predict(j)));
    expect(tf.memory().numTensors).toBe(before);
    expect(infos).toEqual([expect.objectContaining({ requests: 5, prompts: 4, forwards: 2 })]);
    jobs.forEach((j, i) => {
      const f = j.prompt === served[0] ? fixtures[0]! : withStats[stat.indexOf(j.prompt)]!;
      expect(results[i]!.map((r) => bits(r.logits))).toEqual(referenceLogits(fixture, f, j.images, j.count).map(bits));
    });
    for (const p of stat) p.retire();
    for (const p of withStats) p.prompt.dispose();
  });

  it('KiOP prompts take the shared additive canvas path; a prompt that is not additive takes its own, with equal results', async () => {
    expect(served.map((p) => p.additive !== undefined)).toEqual([true, true, true]);
    expect(served.map((p) => [p.additive!.top, p.additive!.left])).toEqual([[4, 4], [4, 4], [6, 6]]); // 32 px images centred in 40 / 40 / 44 px canvases
    const own = serve(fixtures[0]!);
    own.additive = undefined;
    const batcher = new MixedBatcher(host.model, { maxBatchSize: 64, maxWaitMs: 20 });
    const x = image(own, 21, 2);
    const y = image(served[0]!, 22);
    const [viaOwn, viaShared] = await Promise.all([batcher.predict({ prompt: own, count: 2, images: x }), batcher.predict({ prompt: served[0]!, count: 1, images: y })]);
    expect(viaOwn.map((r) => bits(r.logits))).toEqual(referenceLogits(fixture, fixtures[0]!, x, 2).map(bits));
    expect(bits(viaShared[0]!.logits)).toEqual(bits(referenceLogits(fixture, fixtures[0]!, y, 1)[0]!));
    own.retire();
  });

  it('batches close at maxBatchSize images; a bigger request runs alone; maxBatchSize 1 runs one request per forward', async () => {
    const infos: number[] = [];
    const batcher = new MixedBatcher(host.model, { maxBatchSize: 4, maxWaitMs: 1000 }, (i) => infos.push(i.images));
    const p = served[0]!;
    const t0 = performance.now();
    await Promise.all([2, 2, 5, 1].map((count, i) => batcher.predict({ prompt: p, count, images: image(p, i, count) })));
    expect(infos).toEqual([4, 5, 1]);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(900); // the last one waited for company
    const single: number[] = [];
    const one = new MixedBatcher(host.model, { maxBatchSize: 1 }, (i) => single.push(i.images));
    await Promise.all([0, 1, 2].map((i) => one.predict({ prompt: p, count: 1, images: image(p, i) })));
    expect(single).toEqual([1, 1, 1]);
  });

  it('a NaN image fails alone: the other rows of its batch are exact', async () => {
    const batcher = new MixedBatcher(host.model, { maxBatchSize: 64, maxWaitMs: 20 });
    const [a, b] = served as [ServedPrompt, ServedPrompt];
    const bad = image(a, 5);
    bad[100] = Number.NaN;
    const goodA = image(a, 6);
    const goodB = image(b, 7);
    const [ra, rbad, rb] = await Promise.allSettled([
      batcher.predict({ prompt: a, count: 1, images: goodA }),
      batcher.predict({ prompt: a, count: 1, images: bad }),
      batcher.predict({ prompt: b, count: 1, images: goodB }),
    ]);
    expect(rbad.status).toBe('rejected');
    expect((rbad as PromiseRejectedResult).reason).toBeInstanceOf(NonFiniteError);
    expect(bits((ra as PromiseFulfilledResult<{ logits: Float32Array }[]>).value[0]!.logits)).toEqual(bits(referenceLogits(fixture, fixtures[0]!, goodA, 1)[0]!));
    expect(bits((rb as PromiseFulfilledResult<{ logits: Float32Array }[]>).value[0]!.logits)).toEqual(bits(referenceLogits(fixture, fixtures[1]!, goodB, 1)[0]!));
  });

  it('a request that makes the batch throw fails alone (the others are retried one by one)', async () => {
    const batcher = new MixedBatcher(host.model, { maxBatchSize: 64, maxWaitMs: 20 });
    const a = served[0]!;
    const broken = serve(makePrompt('broken', fixture, { seed: 8 }));
    broken.additive = undefined; // take the per-prompt canvas path, which throws
    broken.canvas = () => {
      throw new Error('prompt exploded');
    };
    const ok = image(a, 9);
    const [good, bad] = await Promise.allSettled([
      batcher.predict({ prompt: a, count: 1, images: ok }),
      batcher.predict({ prompt: broken, count: 1, images: image(broken, 1) }),
    ]);
    expect((bad as PromiseRejectedResult).reason.message).toBe('prompt exploded');
    expect(bits((good as PromiseFulfilledResult<{ logits: Float32Array }[]>).value[0]!.logits)).toEqual(bits(referenceLogits(fixture, fixtures[0]!, ok, 1)[0]!));
    broken.retire();
  });

  it('drops aborted requests before they run, refuses past the queue limit, rejects waiting requests on close', async () => {
    const ran: number[] = [];
    const batcher = new MixedBatcher(host.model, { maxBatchSize: 64, maxWaitMs: 50, maxQueuedImages: 3 }, (i) => ran.push(i.images));
    const p = served[0]!;
    const gone = new AbortController();
    const aborted = batcher.predict({ prompt: p, count: 1, images: image(p, 1), signal: gone.signal });
    const kept = batcher.predict({ prompt: p, count: 2, images: image(p, 2, 2) });
    await expect(batcher.predict({ prompt: p, count: 1, images: image(p, 3) })).rejects.toBeInstanceOf(ServerBusyError);
    gone.abort();
    await expect(aborted).rejects.toBeInstanceOf(RequestAbortedError);
    expect((await kept).length).toBe(2);
    expect(ran).toEqual([2]);
    const waiting = batcher.predict({ prompt: p, count: 1, images: image(p, 4) });
    batcher.close();
    await expect(waiting).rejects.toBeInstanceOf(ServerBusyError);
    await expect(batcher.predict({ prompt: p, count: 1, images: image(p, 4) })).rejects.toThrow(/shutting down/);
  });

  it('a prompt retired (file replaced) while requests wait is freed only after they ran', async () => {
    const batcher = new MixedBatcher(host.model, { maxBatchSize: 64, maxWaitMs: 30 });
    const p = serve(fixtures[0]!);
    const x = image(p, 12);
    const pending = batcher.predict({ prompt: p, count: 1, images: x });
    p.retire();
    expect(p.prompt.trainableVariables()[0]!.isDisposed).toBe(false);
    const [row] = await pending;
    expect(bits(row!.logits)).toEqual(bits(referenceLogits(fixture, fixtures[0]!, x, 1)[0]!));
    expect(p.prompt.trainableVariables()[0]!.isDisposed).toBe(true);
  });

  it('validates its options', () => {
    expect(() => new MixedBatcher(host.model, { maxBatchSize: 0 })).toThrow(ConfigError);
    expect(() => new MixedBatcher(host.model, { maxWaitMs: -1 })).toThrow(/maxWaitMs/);
    expect(() => new MixedBatcher(host.model, { maxQueuedImages: 1.5 })).toThrow(/maxQueuedImages/);
    expect(() => new MixedBatcher(host.model, { acceptWindowMs: Number.NaN })).toThrow(/acceptWindowMs/);
  });
});
