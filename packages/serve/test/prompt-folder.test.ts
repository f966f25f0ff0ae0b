import { copyFileSync, mkdirSync, mkdtempSync, rmSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { bits, makeHost, makePrompt, png, randomBytes, referenceLogits, startServer, toFloats, writePrompt, type HostFixture, type PromptFixture } from './fixtures.js';

// The prompt folder: mismatched and corrupt artifacts are refused with a logged reason while the others keep
// being served; new, changed and removed files are picked up without a restart.
const work = mkdtempSync(join(tmpdir(), 'promptkd-serve-folder-'));
const dir = join(work, 'prompts');
let host: HostFixture;
let other: HostFixture;
const made: PromptFixture[] = [];
let server: { app: FastifyInstance; url: string };
const logLines: { msg: string; reason?: string; file?: string; level: number }[] = [];

const SHAPE = [28, 28, 1] as const;
const image = randomBytes(1, SHAPE, 42);

async function ids(): Promise<string[]> {
  const body = (await (await fetch(`${server.url}/v1/prompts`)).json()) as { prompts: { id: string }[] };
  return body.prompts.map((p) => p.id);
}

async function waitFor(check: () => Promise<boolean>, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

async function predict(id: string) {
  const res = await fetch(`${server.url}/v1/prompts/${id}/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png(image, SHAPE) });
  return { status: res.status, body: (await res.json()) as { predictions: { logits: number[] }[] } };
}

function prompt(id: string, h: HostFixture, options: Parameters<typeof makePrompt>[2] = {}): PromptFixture {
  const p = makePrompt(id, h, options);
  made.push(p);
  return p;
}

beforeAll(async () => {
  host = await makeHost(work, 1);
  other = await makeHost(work, 2);
  writePrompt(dir, prompt('good', host, { seed: 1 }));
  writePrompt(join(dir, 'runs', 'kiopBF__s0', 'prompts'), prompt('nested', host, { seed: 2 }));
  writePrompt(dir, prompt('for-other-host', other, { seed: 3 }));
  writePrompt(dir, prompt('bn-train', host, { seed: 4, bnTrainMode: true }));
  writeFileSync(join(dir, 'corrupt.safetensors'), new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]));
  const truncated = prompt('truncated', host, { seed: 5 });
  writeFileSync(join(dir, 'truncated.safetensors'), truncated.bytes.subarray(0, truncated.bytes.length - 100));
  // a model file and a checkpoint folder are not prompts: ignored, not refused
  copyFileSync(host.file, join(dir, 'weights.safetensors'));
  mkdirSync(join(dir, 'runs', 'kiopBF__s0', 'checkpoints'), { recursive: true });
  writeFileSync(join(dir, 'runs', 'kiopBF__s0', 'checkpoints', 'junk.safetensors'), 'junk');
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const line of String(chunk).split('\n').filter(Boolean)) logLines.push(JSON.parse(line));
      done();
    },
  });
  server = await startServer({ host: host.file, prompts: dir, logger: { level: 'info', stream } });
});

afterAll(async () => {
  await server?.app.close();
  host?.model.dispose();
  other?.model.dispose();
  for (const p of made) p.prompt.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('prompt folder', () => {
  it('serves the fitting prompts (also in run sub-folders) and refuses the others with a logged reason', async () => {
    expect(await ids()).toEqual(['good', 'nested']);
    const status = (await (await fetch(`${server.url}/v1/status`)).json()) as { refused: { file: string; reason: string; message: string }[] };
    const reasons = Object.fromEntries(status.refused.map((r) => [r.file.slice(dir.length + 1), r.reason]));
    expect(reasons).toEqual({
      'bn-train.safetensors': 'host-bn-train-mode',
      'corrupt.safetensors': 'corrupt',
      'for-other-host.safetensors': 'host-mismatch',
      'truncated.safetensors': 'corrupt',
    });
    const mismatch = status.refused.find((r) => r.reason === 'host-mismatch')!;
    expect(mismatch.message).toContain(`sha256 ${other.sha256.slice(0, 16)}`);
    expect(mismatch.message).toContain('Serve it with the host it was trained on');
    const logged = logLines.filter((l) => l.level === 40 && l.msg.startsWith('refused prompt'));
    expect(logged.map((l) => l.reason).sort()).toEqual(['corrupt', 'corrupt', 'host-bn-train-mode', 'host-mismatch']);
    expect(logged.find((l) => l.reason === 'host-bn-train-mode')!.msg).toContain('cannot be served');
    // the good ones answer correctly while the bad ones sit in the folder
    const good = await predict('good');
    expect(good.status).toBe(200);
    expect(bits(good.body.predictions[0]!.logits)).toEqual(bits(referenceLogits(host, made[0]!, toFloats(image), 1)[0]!));
    expect((await predict('corrupt')).status).toBe(404);
    expect((await predict('for-other-host')).status).toBe(404);
  });

  it('picks up a new prompt file without a restart', async () => {
    const added = prompt('added', host, { seed: 6, task: 'cifar' });
    // written the way a careful copier does: temp name, then rename
    writeFileSync(join(dir, '.added.tmp'), added.bytes);
    renameSync(join(dir, '.added.tmp'), join(dir, 'added.safetensors'));
    await waitFor(async () => (await ids()).includes('added'), "'added' to be served");
    const rgb = randomBytes(1, [32, 32, 3], 8);
    const res = await fetch(`${server.url}/v1/prompts/added/predict`, { method: 'POST', headers: { 'content-type': 'image/png' }, body: png(rgb, [32, 32, 3]) });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { predictions: { logits: number[] }[] };
    expect(bits(body.predictions[0]!.logits)).toEqual(bits(referenceLogits(host, added, toFloats(rgb), 1)[0]!));
  });

  it('reloads a changed file, and stops serving it when it turns corrupt or is removed', async () => {
    const before = (await predict('good')).body.predictions[0]!.logits;
    const replacement = prompt('good', host, { seed: 9 });
    writeFileSync(join(dir, 'good.safetensors'), replacement.bytes);
    const expected = bits(referenceLogits(host, replacement, toFloats(image), 1)[0]!);
    await waitFor(async () => bits((await predict('good')).body.predictions[0]?.logits ?? []).join() === expected.join(), 'the changed prompt');
    expect(bits(before)).not.toEqual(expected);

    writeFileSync(join(dir, 'good.safetensors'), 'now garbage');
    await waitFor(async () => !(await ids()).includes('good'), "'good' to be refused");
    expect((await predict('nested')).status).toBe(200);

    unlinkSync(join(dir, 'runs', 'kiopBF__s0', 'prompts', 'nested.safetensors'));
    await waitFor(async () => !(await ids()).includes('nested'), "'nested' to be removed");
    expect(await ids()).toEqual(['added']);
  });

  it('a corrupt file fixed in place is served again', async () => {
    writePrompt(dir, prompt('corrupt', host, { seed: 10 }));
    await waitFor(async () => (await ids()).includes('corrupt'), "'corrupt' to be served once fixed");
    const status = (await (await fetch(`${server.url}/v1/status`)).json()) as { refused: { file: string }[] };
    expect(status.refused.map((r) => r.file)).not.toContain(join(dir, 'corrupt.safetensors'));
  });
});
