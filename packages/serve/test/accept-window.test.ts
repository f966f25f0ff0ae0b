import { mkdtempSync, rmSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadHost, type LoadedHost } from '../src/index.js';
import { makeHost, makePrompt, startServer, writePrompt, type HostFixture, type PromptFixture } from './fixtures.js';

// A batch's forward holds the event loop, and libuv accepts one connection per loop turn: a busy server must still
// take in a burst of new clients within a batch or two, not one batch per client.
const work = mkdtempSync(join(tmpdir(), 'promptkd-serve-accept-'));
const promptsDir = join(work, 'prompts');
let fixture: HostFixture;
let prompt: PromptFixture;
let host: LoadedHost;
let forwards = 0;

const FORWARD_MS = 20;
const NEW_CLIENTS = 12;

beforeAll(async () => {
  fixture = await makeHost(work);
  prompt = makePrompt('fashion', fixture, { seed: 1 });
  writePrompt(promptsDir, prompt);
  host = await loadHost(fixture.file);
  // a host as slow as a big one: every forward holds the loop FORWARD_MS
  const apply = host.model.apply.bind(host.model);
  Object.assign(host.model, {
    apply: (...args: Parameters<typeof apply>) => {
      forwards++;
      const end = performance.now() + FORWARD_MS;
      while (performance.now() < end);
      return apply(...args);
    },
  });
});

afterAll(() => {
  host?.model.dispose();
  fixture?.model.dispose();
  prompt?.prompt.dispose();
  rmSync(work, { recursive: true, force: true });
});

const body = Buffer.from(new Float32Array(28 * 28).fill(0.5).buffer);

/** One raw predict request, on `agent` (false: a new connection of its own). */
function predict(url: string, agent: Agent | false): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(`${url}/v1/prompts/fashion/predict?shape=1,28,28,1`, { method: 'POST', agent, headers: { 'content-type': 'application/octet-stream' } }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', reject);
    req.end(body);
  });
}

/**
 * Host forwards a busy server runs while NEW_CLIENTS new connections, opened at once, each get their answer. Four
 * keep-alive clients keep a batch running every loop turn meanwhile.
 */
async function forwardsForNewClients(acceptWindowMs: number): Promise<number> {
  const { app, url } = await startServer({ host, prompts: promptsDir, maxBatchSize: 64, maxWaitMs: 0, acceptWindowMs, watch: false });
  const agent = new Agent({ keepAlive: true, maxSockets: 4 });
  let busy = true;
  const loops = Array.from({ length: 4 }, async () => {
    while (busy) expect(await predict(url, agent)).toBe(200);
  });
  try {
    const start = forwards;
    while (forwards < start + 3) await new Promise((r) => setTimeout(r, 5));
    const before = forwards;
    const statuses = await Promise.all(Array.from({ length: NEW_CLIENTS }, () => predict(url, false)));
    expect(statuses).toEqual(new Array(NEW_CLIENTS).fill(200));
    return forwards - before;
  } finally {
    busy = false;
    await Promise.all(loops);
    agent.destroy();
    await app.close();
  }
}

describe('a busy server takes in new connections', () => {
  it('within a batch or two while batches run (one batch per new client without the accept window)', async () => {
    const withWindow = await forwardsForNewClients(25);
    const without = await forwardsForNewClients(0);
    expect(withWindow).toBeLessThanOrEqual(4);
    expect(without).toBeGreaterThanOrEqual(NEW_CLIENTS - 2);
  });
});
