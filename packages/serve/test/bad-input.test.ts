import { mkdtempSync, rmSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { bits, makeHost, makePrompt, png, randomBytes, referenceLogits, startServer, toFloats, writePrompt, type HostFixture, type PromptFixture } from './fixtures.js';

// Every bad input gets a 4xx JSON error naming the problem, and the server keeps answering the others.
const work = mkdtempSync(join(tmpdir(), 'promptkd-serve-bad-'));
let host: HostFixture;
let p: PromptFixture;
let server: { app: FastifyInstance; url: string };
const SHAPE = [28, 28, 1] as const;

async function post(path: string, body: BodyInit | undefined, type?: string) {
  const res = await fetch(`${server.url}${path}`, { method: 'POST', body, headers: type ? { 'content-type': type } : {} });
  const text = await res.text();
  let json: { error?: { code: string; message: string } } = {};
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    throw new Error(`not JSON (${res.status}): ${text.slice(0, 200)}`);
  }
  return { status: res.status, json };
}

function form(files: { bytes: Uint8Array<ArrayBuffer>; name: string; type?: string }[]): FormData {
  const f = new FormData();
  for (const x of files) f.append('image', new Blob([x.bytes], { type: x.type ?? 'image/png' }), x.name);
  return f;
}

beforeAll(async () => {
  host = await makeHost(work);
  p = makePrompt('fashion', host, { seed: 1 });
  writePrompt(join(work, 'prompts'), p);
  server = await startServer({ host: host.file, prompts: join(work, 'prompts'), maxUploadBytes: 64 * 1024, maxImagesPerRequest: 4, maxImagePixels: 512 * 512, watch: false });
});

afterAll(async () => {
  await server?.app.close();
  host?.model.dispose();
  p?.prompt.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('bad input', () => {
  const good = () => png(randomBytes(1, SHAPE, 1), SHAPE);

  it('unknown prompt id → 404', async () => {
    const r = await post('/v1/prompts/nope/predict', form([{ bytes: good(), name: 'a.png' }]));
    expect(r.status).toBe(404);
    expect(r.json.error).toMatchObject({ code: 'E_NOT_FOUND' });
    expect(r.json.error!.message).toContain("No prompt 'nope'");
    expect((await fetch(`${server.url}/v1/prompts/nope`)).status).toBe(404);
  });

  it('a non-image upload → 400 naming the upload', async () => {
    const r = await post('/v1/prompts/fashion/predict', form([{ bytes: new TextEncoder().encode('hello, not a picture'), name: 'notes.txt', type: 'text/plain' }]));
    expect(r.status).toBe(400);
    expect(r.json.error!.code).toBe('E_FORMAT');
    expect(r.json.error!.message).toContain("'notes.txt' is not a PNG or JPEG");
  });

  it('a truncated PNG or JPEG → 400 saying it cannot be decoded', async () => {
    const bytes = good();
    const r = await post('/v1/prompts/fashion/predict', form([{ bytes: bytes.subarray(0, bytes.length - 20), name: 'cut.png' }]));
    expect(r.status).toBe(400);
    expect(r.json.error!.message).toMatch(/cut\.png.*cannot be decoded as PNG/);
    const jpeg = Uint8Array.from([0xff, 0xd8, 0xff, 0xe0, 0, 16, 0x4a, 0x46, 0x49, 0x46, 0]);
    const rj = await post('/v1/prompts/fashion/predict', jpeg, 'image/jpeg');
    expect(rj.status).toBe(400);
    expect(rj.json.error!.message).toMatch(/cannot be decoded as JPEG/);
  });

  it('an oversized upload → 413 naming the limit (multipart file and plain body)', async () => {
    const big = new Uint8Array(70 * 1024).fill(7);
    const r = await post('/v1/prompts/fashion/predict', form([{ bytes: big, name: 'big.png' }]));
    expect(r.status).toBe(413);
    expect(r.json.error!.message).toContain('65536-byte limit');
    const r2 = await post('/v1/prompts/fashion/predict', big, 'image/png');
    expect(r2.status).toBe(413);
    expect(r2.json.error!.message).toContain('65536-byte limit');
  });

  it('a decompression bomb (a small PNG of too many pixels) → 400 before decoding', async () => {
    const bomb = png(new Uint8Array(1024 * 1024), [1024, 1024, 1]);
    expect(bomb.length).toBeLessThan(64 * 1024);
    const r = await post('/v1/prompts/fashion/predict', bomb, 'image/png');
    expect(r.status).toBe(400);
    expect(r.json.error!.message).toContain('1024×1024 PNG, more than the 262144-pixel limit');
  });

  it('too many images in one request → 413', async () => {
    const r = await post('/v1/prompts/fashion/predict', form(Array.from({ length: 5 }, (_, i) => ({ bytes: good(), name: `${i}.png` }))));
    expect(r.status).toBe(413);
    expect(r.json.error!.message).toContain('at most 4 images');
  });

  it('raw input: NaN → 422, out of [0,1] → 400, wrong shape or byte count → 400, missing shape → 400', async () => {
    const raw = new Float32Array(784).fill(0.5);
    raw[10] = Number.NaN;
    const nan = await post('/v1/prompts/fashion/predict?shape=1,28,28,1', new Uint8Array(raw.buffer), 'application/octet-stream');
    expect(nan.status).toBe(422);
    expect(nan.json.error).toMatchObject({ code: 'E_NONFINITE' });
    expect(nan.json.error!.message).toContain('NaN at flat index 10');
    raw[10] = 3;
    const big = await post('/v1/prompts/fashion/predict?shape=1,28,28,1', new Uint8Array(raw.buffer), 'application/octet-stream');
    expect(big.status).toBe(400);
    expect(big.json.error!.message).toContain('must be in [0, 1]');
    raw[10] = 0.5;
    const shape = await post('/v1/prompts/fashion/predict?shape=1,32,32,3', new Uint8Array(raw.buffer), 'application/octet-stream');
    expect(shape.status).toBe(400);
    expect(shape.json.error!.message).toContain("does not match this prompt's images [N, 28, 28, 1]");
    const bytes = await post('/v1/prompts/fashion/predict?shape=2,28,28,1', new Uint8Array(raw.buffer), 'application/octet-stream');
    expect(bytes.status).toBe(400);
    expect(bytes.json.error!.message).toContain('needs 6272 bytes');
    const none = await post('/v1/prompts/fashion/predict', new Uint8Array(raw.buffer), 'application/octet-stream');
    expect(none.status).toBe(400);
    expect(none.json.error!.message).toContain('?shape=N,H,W,C');
  });

  it('unsupported content type, empty multipart, bad query → 4xx JSON', async () => {
    const t = await post('/v1/prompts/fashion/predict', 'hello', 'text/plain');
    expect(t.status).toBe(415);
    expect(t.json.error!.message).toContain('multipart/form-data');
    const j = await post('/v1/prompts/fashion/predict', JSON.stringify({ image: 'x' }), 'application/json');
    expect(j.status).toBe(415);
    const f = new FormData();
    f.append('note', 'no file here');
    const empty = await post('/v1/prompts/fashion/predict', f);
    expect(empty.status).toBe(400);
    expect(empty.json.error!.message).toContain("field 'image'");
    const k = await post('/v1/prompts/fashion/predict?k=0', form([{ bytes: good(), name: 'a.png' }]));
    expect(k.status).toBe(400);
    expect(k.json.error!.message).toContain("'k' must be a positive integer");
    const ex = await post('/v1/prompts/fashion/predict?explain=gradcam', form([{ bytes: good(), name: 'a.png' }]));
    expect(ex.status).toBe(400);
    const nf = await fetch(`${server.url}/no/such/route`);
    expect(nf.status).toBe(404);
    expect(((await nf.json()) as { error: { code: string } }).error.code).toBe('E_NOT_FOUND');
  });

  it('images of another size or colour are resized / converted, not refused', async () => {
    const rgb = randomBytes(1, [50, 70, 3], 4);
    const r = await post('/v1/prompts/fashion/predict', form([{ bytes: png(rgb, [50, 70, 3]), name: 'photo.png' }]));
    expect(r.status).toBe(200);
  });

  it('clients that disconnect mid-batch do not poison the others', async () => {
    const images = [0, 1, 2, 3, 4, 5].map((i) => randomBytes(1, SHAPE, 50 + i));
    const slow = await startServer({ host: host.file, prompts: join(work, 'prompts'), maxBatchSize: 64, maxWaitMs: 2000, watch: false });
    try {
      // three clients send a full request and hang up while it waits for its batch
      const abandoned = [0, 1, 2].map(
        (i) =>
          new Promise<void>((resolve) => {
            const body = Buffer.from(png(images[i]!, SHAPE));
            const req = request(`${slow.url}/v1/prompts/fashion/predict`, { method: 'POST', headers: { 'content-type': 'image/png', 'content-length': body.length } });
            req.on('error', () => resolve());
            req.on('close', () => resolve());
            req.end(body, () => setTimeout(() => req.destroy(), 50));
          }),
      );
      const kept = [3, 4, 5].map((i) =>
        fetch(`${slow.url}/v1/prompts/fashion/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png(images[i]!, SHAPE) }),
      );
      await Promise.all(abandoned);
      const answers = await Promise.all(kept);
      for (const [n, res] of answers.entries()) {
        expect(res.status).toBe(200);
        const body = (await res.json()) as { predictions: { logits: number[] }[] };
        const expected = referenceLogits(host, p, toFloats(images[3 + n]!), 1)[0]!;
        expect(bits(body.predictions[0]!.logits)).toEqual(bits(expected));
      }
      expect((await fetch(`${slow.url}/healthz`)).status).toBe(200);
      expect(slow.app.promptkd.batcher.pending).toBe(0);
      // the hung-up requests were dropped from the queue: only the three kept images ran
      const metrics = await (await fetch(`${slow.url}/metrics`)).text();
      expect(metrics).toMatch(/^promptkd_serve_batch_images_sum 3$/m);
    } finally {
      await slow.app.close();
    }
  });

  it('after all of that the server still answers correctly', async () => {
    const img = randomBytes(1, SHAPE, 99);
    const r = await fetch(`${server.url}/v1/prompts/fashion/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png(img, SHAPE) });
    expect(r.status).toBe(200);
    const body = (await r.json()) as { predictions: { logits: number[] }[] };
    expect(bits(body.predictions[0]!.logits)).toEqual(bits(referenceLogits(host, p, toFloats(img), 1)[0]!));
  });
});
