import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { encode } from 'fast-png';
import { evalBatches, kiopTransform, loadDataset, takePerClass } from '@promptkd/datasets/node';
import { FusedModels, participantPresets } from '@promptkd/kiop';
import { FixedLabelMapping } from '@promptkd/label-mapping';
import { createPromptServer } from '@promptkd/serve';
import { loadPromptArtifact, type SegmentedPrompt } from '@promptkd/visual-prompt/node';

// `promptkd kiop run` writes a prompt artifact that `promptkd serve` loads as is, and prints the command; the served
// prompt answers the source's test images exactly as the run's own evaluation did (same logits, same Acc.B).
const bin = fileURLToPath(new URL('../../cli/bin/promptkd.mjs', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'promptkd-kiop-serve-'));
const env = { ...process.env, PROMPTKD_MODELS: join(work, 'models'), PROMPTKD_BACKEND: 'wasm', PROMPTKD_PROGRESS: 'silent' };

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('kiop run → serve', () => {
  it('serves the finished run with the printed command and reproduces its Acc.B over HTTP', async () => {
    const args = ['kiop', 'run', '--host', 'mnist', '--source', 'fashionMnist', '--variant', 'kiopT', '--preset', 'smoke', '--out', join(work, 'runs')];
    const run = spawnSync(process.execPath, [bin, ...args], { env, encoding: 'utf8' });
    expect(run.status, run.stderr.slice(-3000)).toBe(0);
    const out = JSON.parse(run.stdout) as { run: string; final: { accB: number }; serve: string };
    expect(run.stderr).toContain(`serve this prompt: ${out.serve}`);
    const m = /^promptkd serve --host (\S+) --prompts (\S+)$/.exec(out.serve);
    expect(m, out.serve).not.toBeNull();
    const [, hostFile, promptsDir] = m!;
    expect(existsSync(join(promptsDir!, 'fashionMnist-kiopT-s0.safetensors'))).toBe(true);
    expect(existsSync(join(promptsDir!, 'fashionMnist-kiopT-s0.json'))).toBe(true);

    const app = await createPromptServer({ host: hostFile!, prompts: promptsDir!, logger: false, processMetrics: false, watch: false });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const list = (await (await fetch(`${url}/v1/prompts`)).json()) as { prompts: Record<string, unknown>[] };
      expect(list.prompts).toHaveLength(1);
      const test = takePerClass(await loadDataset('fashionMnist', { split: 'test' }), participantPresets.smoke.testPerClass!);
      expect(list.prompts[0]).toMatchObject({
        id: 'fashionMnist-kiopT-s0',
        sourceDataset: 'fashionMnist',
        classNames: [...test.classNames],
        canvasSizes: [32, 36, 48],
        imageShape: [28, 28, 1],
        accuracy: { name: 'accB', value: out.final.accB, images: test.count },
        host: { arch: 'bnCnn', dataset: 'mnist' },
      });

      // every test image as a PNG upload, in requests of up to 16
      const per = test.height * test.width * test.channels;
      const served: number[][] = [];
      for (let start = 0; start < test.count; start += 16) {
        const form = new FormData();
        for (let i = start; i < Math.min(start + 16, test.count); i++) {
          const img = encode({ width: 28, height: 28, channels: 1, depth: 8, data: test.images.subarray(i * per, (i + 1) * per) });
          form.append('image', new Blob([new Uint8Array(img)], { type: 'image/png' }), `${i}.png`);
        }
        const res = await fetch(`${url}/v1/prompts/fashionMnist-kiopT-s0/predict?k=1`, { method: 'POST', body: form });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { predictions: { logits: number[]; top: { index: number }[] }[] };
        served.push(...body.predictions.map((p) => p.logits));
      }
      expect(served).toHaveLength(test.count);

      // the run's own evaluation path on the same images: SMB = LM ∘ f_A ∘ PP ∘ PC, eval BN, batches of 256
      const { prompt, metadata } = await loadPromptArtifact(join(promptsDir!, 'fashionMnist-kiopT-s0.safetensors'));
      const serveMeta = metadata.extra!.serve as { source: { labelMapping: string } };
      const host = app.promptkd.host.model;
      const fused = new FusedModels(host, prompt as SegmentedPrompt, [new FixedLabelMapping(metadata.labelMappings![serveMeta.source.labelMapping]!, 10)], { hostBnTrainMode: false });
      const expected: number[][] = [];
      let correct = 0;
      for (const { x, y } of evalBatches(test, { batchSize: 256, transform: kiopTransform('fashionMnist', 'test') })) {
        const logits = fused.smb(x);
        const rows = logits.arraySync();
        const labels = y.arraySync();
        rows.forEach((r, i) => {
          expected.push(r);
          if (r.indexOf(Math.max(...r)) === labels[i]) correct++;
        });
        tf.dispose([x, y, logits]);
      }
      prompt.dispose();
      expect(served).toEqual(expected);
      const servedCorrect = served.filter((r, i) => r.indexOf(Math.max(...r)) === test.labels[i]).length;
      expect(servedCorrect / test.count).toBe(out.final.accB);
      expect(correct / test.count).toBe(out.final.accB);
    } finally {
      await app.close();
    }
  }, 300_000);

  it('host BN on batch statistics: the artifact carries the prompt BN statistics, and the server reproduces the recorded served Acc.B', async () => {
    const args = ['kiop', 'run', '--host', 'mnist', '--source', 'fashionMnist', '--variant', 'kiopT', '--preset', 'smoke', '--out', join(work, 'runs-bn')];
    const run = spawnSync(process.execPath, [bin, ...args, '--set', 'fidelity.hostBnTrainMode=true'], { env, encoding: 'utf8' });
    expect(run.status, run.stderr.slice(-3000)).toBe(0);
    const out = JSON.parse(run.stdout) as { run: string; final: { accB: number }; served: { accB: number }; serve: string };
    expect(out.served.accB).toBeGreaterThanOrEqual(0);
    expect(run.stderr).toContain('as served (prompt BN statistics)');
    const [, hostFile, promptsDir] = /^promptkd serve --host (\S+) --prompts (\S+)$/.exec(out.serve)!;
    const { metadata, extraTensors, prompt } = await loadPromptArtifact(join(promptsDir!, 'fashionMnist-kiopT-s0.safetensors'));
    prompt.dispose();
    const serveMeta = metadata.extra!.serve as { host: { bnMode: string }; bnStatistics: { layers: string[]; images: number; data: string } };
    expect(serveMeta.host.bnMode).toBe('promptStatistics');
    expect(serveMeta.bnStatistics.data).toBe('synthetic bank B');
    expect(Object.keys(extraTensors).sort()).toEqual(serveMeta.bnStatistics.layers.flatMap((l) => [`bn.${l}.mean`, `bn.${l}.variance`]).sort());

    const app = await createPromptServer({ host: hostFile!, prompts: promptsDir!, logger: false, processMetrics: false, watch: false });
    const url = await app.listen({ host: '127.0.0.1', port: 0 });
    try {
      const test = takePerClass(await loadDataset('fashionMnist', { split: 'test' }), participantPresets.smoke.testPerClass!);
      const list = (await (await fetch(`${url}/v1/prompts`)).json()) as { prompts: Record<string, unknown>[] };
      expect(list.prompts[0]).toMatchObject({
        bnMode: 'promptStatistics',
        accuracy: { name: 'accB', value: out.final.accB, images: test.count },
        servedAccuracy: { name: 'accB', value: out.served.accB, images: test.count },
      });
      const per = test.height * test.width * test.channels;
      let correct = 0;
      for (let start = 0; start < test.count; start += 16) {
        const form = new FormData();
        for (let i = start; i < Math.min(start + 16, test.count); i++) {
          const img = encode({ width: 28, height: 28, channels: 1, depth: 8, data: test.images.subarray(i * per, (i + 1) * per) });
          form.append('image', new Blob([new Uint8Array(img)], { type: 'image/png' }), `${i}.png`);
        }
        const res = await fetch(`${url}/v1/prompts/fashionMnist-kiopT-s0/predict?k=1`, { method: 'POST', body: form });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { predictions: { top: { index: number }[] }[] };
        body.predictions.forEach((p, j) => (correct += p.top[0]!.index === test.labels[start + j] ? 1 : 0));
      }
      expect(correct / test.count).toBe(out.served.accB);
    } finally {
      await app.close();
    }
  }, 300_000);
});
