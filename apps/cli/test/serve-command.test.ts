import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createModel } from '@promptkd/models';
import { saveModelWeights } from '@promptkd/models/node';
import { servablePromptInput, sha256File } from '@promptkd/serve';
import { encodePromptArtifact, SegmentedPrompt } from '@promptkd/visual-prompt';

// `promptkd serve` as a user runs it: a host file, a prompt folder, an API key file; it listens, answers, and
// shuts down cleanly on SIGTERM.
const bin = fileURLToPath(new URL('../bin/promptkd.mjs', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'promptkd-cli-serve-'));
const KEY = 'cli-test-key-0123456789';

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('promptkd serve', () => {
  it('serves a prompt folder on 127.0.0.1 with API keys and stops on SIGTERM', async () => {
    const host = createModel('bnCnn', { blocks: [4], numClasses: 10, seed: 3 });
    const hostFile = join(work, 'host.safetensors');
    await saveModelWeights(host, hostFile, { dataset: 'mnist' });
    const prompt = new SegmentedPrompt({ sizes: [32, 36, 40] });
    const { safetensors } = encodePromptArtifact(
      prompt,
      servablePromptInput({
        host: { arch: 'bnCnn', dataset: 'mnist', weightsSha256: await sha256File(hostFile), numClasses: 10, inputChannels: 3, bnTrainMode: false },
        source: { dataset: 'cifar10', imageShape: [32, 32, 3], classNames: Array.from({ length: 10 }, (_, i) => `c${i}`), labelMapping: [9, 8, 7, 6, 5, 4, 3, 2, 1, 0], segments: 2 },
      }),
    );
    host.dispose();
    prompt.dispose();
    mkdirSync(join(work, 'prompts'));
    writeFileSync(join(work, 'prompts', 'cifar-demo.safetensors'), safetensors);
    writeFileSync(join(work, 'keys.json'), JSON.stringify({ keys: [{ key: KEY }] }));

    const child = spawn(
      process.execPath,
      [bin, 'serve', '--host', hostFile, '--prompts', join(work, 'prompts'), '--port', '0', '--api-key-file', join(work, 'keys.json'), '--max-batch-size', '8'],
      { env: { ...process.env, PROMPTKD_BACKEND: 'wasm' }, stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let stderr = '';
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    try {
      const url = await new Promise<string>((resolve, reject) => {
        child.stderr.on('data', (d) => {
          stderr += d;
          const m = /serving on (http:\/\/127\.0\.0\.1:\d+)/.exec(stderr);
          if (m) resolve(m[1]!);
        });
        void exited.then(() => reject(new Error(`promptkd serve exited early:\n${stderr}`)));
      });
      expect((await fetch(`${url}/readyz`)).status).toBe(200);
      expect((await fetch(`${url}/v1/prompts`)).status).toBe(401);
      const list = (await (await fetch(`${url}/v1/prompts`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as { prompts: { id: string }[] };
      expect(list.prompts.map((p) => p.id)).toEqual(['cifar-demo']);
      const status = (await (await fetch(`${url}/v1/status`, { headers: { authorization: `Bearer ${KEY}` } })).json()) as { batching: { maxBatchSize: number } };
      expect(status.batching.maxBatchSize).toBe(8);
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited).toBe(0);
  }, 120_000);
});
