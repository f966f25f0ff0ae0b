import type * as NodeCrypto from 'node:crypto';
import { timingSafeEqual } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { FastifyInstance } from 'fastify';
import { ConfigError } from '@promptkd/core';
import { ApiKeyGate, parseApiKeys, readApiKeyFile } from '../src/index.js';
import { makeHost, makePrompt, png, randomBytes, startServer, writePrompt, type HostFixture, type PromptFixture } from './fixtures.js';

// the real timingSafeEqual, observed (the key gate must call it for every key, on 32-byte digests)
vi.mock('node:crypto', async (importOriginal) => {
  const actual = await importOriginal<typeof NodeCrypto>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

// --api-key-file: every /v1 route needs a Bearer key; scoped keys never see prompts outside their scope.
const work = mkdtempSync(join(tmpdir(), 'promptkd-serve-auth-'));
const OPS = 'ops-key-0123456789abcdef';
const ACME = 'acme-key-0123456789abcdef';
let host: HostFixture;
const prompts: PromptFixture[] = [];
let server: { app: FastifyInstance; url: string };

const get = (path: string, key?: string) => fetch(`${server.url}${path}`, { headers: key ? { authorization: `Bearer ${key}` } : {} });
const predict = (id: string, key?: string) =>
  fetch(`${server.url}/v1/prompts/${id}/predict`, {
    method: 'POST',
    headers: { 'content-type': 'image/png', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: png(randomBytes(1, [28, 28, 1], 1), [28, 28, 1]),
  });

beforeAll(async () => {
  host = await makeHost(work);
  for (const id of ['alpha', 'beta', 'gamma']) {
    const p = makePrompt(id, host, { seed: prompts.length });
    prompts.push(p);
    writePrompt(join(work, 'prompts'), p);
  }
  const keyFile = join(work, 'keys.json');
  writeFileSync(keyFile, JSON.stringify({ keys: [{ name: 'ops', key: OPS, prompts: '*' }, { name: 'acme', key: ACME, prompts: ['alpha', 'gamma'] }] }));
  server = await startServer({ host: host.file, prompts: join(work, 'prompts'), apiKeyFile: keyFile, watch: false });
});

afterAll(async () => {
  await server?.app.close();
  host?.model.dispose();
  for (const p of prompts) p.prompt.dispose();
  rmSync(work, { recursive: true, force: true });
});

describe('API keys', () => {
  it('every /v1 route and /metrics need a valid Bearer key; health, readiness and the page do not', async () => {
    for (const path of ['/v1/prompts', '/v1/prompts/alpha', '/v1/status', '/metrics']) {
      const res = await get(path);
      expect(res.status, path).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('E_AUTH');
      expect((await get(path, 'wrong-key-0123456789abcdef')).status, path).toBe(401);
      expect((await get(path, OPS.slice(0, -1))).status, path).toBe(401);
    }
    expect((await predict('alpha')).status).toBe(401);
    expect((await fetch(`${server.url}/v1/prompts`, { headers: { authorization: OPS } })).status).toBe(401); // no "Bearer"
    expect((await get('/healthz')).status).toBe(200);
    expect((await get('/readyz')).status).toBe(200);
    expect((await get('/')).status).toBe(200);
  });

  it('an unscoped key sees and uses every prompt', async () => {
    const body = (await (await get('/v1/prompts', OPS)).json()) as { prompts: { id: string }[] };
    expect(body.prompts.map((p) => p.id)).toEqual(['alpha', 'beta', 'gamma']);
    expect((await predict('beta', OPS)).status).toBe(200);
    expect((await get('/metrics', OPS)).status).toBe(200);
    expect((await get('/v1/status', OPS)).status).toBe(200);
  });

  it('a scoped key never sees prompts outside its scope, not even in the list', async () => {
    const body = (await (await get('/v1/prompts', ACME)).json()) as { prompts: { id: string }[] };
    expect(body.prompts.map((p) => p.id)).toEqual(['alpha', 'gamma']);
    expect((await predict('alpha', ACME)).status).toBe(200);
    // out of scope looks exactly like a prompt that does not exist
    const beta = await predict('beta', ACME);
    const nothing = await predict('nothing', ACME);
    expect(beta.status).toBe(404);
    expect(nothing.status).toBe(404);
    const msg = (r: unknown) => (r as { error: { message: string } }).error.message.replace(/'[^']*'/, "'…'");
    expect(msg(await beta.json())).toBe(msg(await nothing.json()));
    expect((await get('/v1/prompts/beta', ACME)).status).toBe(404);
    // operator routes show every prompt: not for scoped keys
    expect((await get('/v1/status', ACME)).status).toBe(403);
    expect((await get('/metrics', ACME)).status).toBe(403);
  });

  it('compares keys in constant time: timingSafeEqual over SHA-256 digests of every key, no early exit', () => {
    const spy = vi.mocked(timingSafeEqual);
    const gate = new ApiKeyGate(parseApiKeys({ keys: [{ key: OPS }, { key: ACME, prompts: ['alpha'] }] }));
    spy.mockClear();
    expect(gate.authorize(`Bearer ${OPS}`)?.all).toBe(true); // the first key matches; the second is still compared
    expect(spy).toHaveBeenCalledTimes(2);
    for (const call of spy.mock.calls) expect([(call[0] as Buffer).length, (call[1] as Buffer).length]).toEqual([32, 32]);
    spy.mockClear();
    expect(gate.authorize('Bearer x')).toBeUndefined();
    expect(gate.authorize(undefined)).toBeUndefined();
    expect(spy).toHaveBeenCalledTimes(4);
    expect(gate.authorize(`Bearer ${ACME}`)?.prompts).toEqual(new Set(['alpha']));
  });

  it('refuses weak or malformed key files with a ConfigError naming the problem', () => {
    expect(() => parseApiKeys({ keys: [{ key: 'short' }] })).toThrow(/at least 16 characters/);
    expect(() => parseApiKeys({ keys: [] })).toThrow(/at least one key/);
    expect(() => parseApiKeys({ keys: [{ key: OPS }, { key: OPS }] })).toThrow(/listed twice/);
    expect(() => parseApiKeys({ keys: [{ key: OPS, prompts: 'alpha' }] })).toThrow(ConfigError);
    const bad = join(work, 'bad.json');
    writeFileSync(bad, '{ not json');
    expect(() => readApiKeyFile(bad)).toThrow(/cannot be read as JSON/);
  });
});
