import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadLatestCheckpoint } from '@promptkd/experiments';

const writer = fileURLToPath(new URL('./fixtures/checkpoint-writer.ts', import.meta.url));

/** Starts the writer, waits until it reported `minSaved` checkpoints plus `extraMs`, SIGKILLs it. */
function runAndKill(dir: string, minSaved: number, extraMs: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--conditions', '@promptkd/source', '--import', 'tsx', writer, dir], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, TF_CPP_MIN_LOG_LEVEL: '3' },
    });
    let last = 0;
    let err = '';
    let killing = false;
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdout.on('data', (d: Buffer) => {
      for (const m of d.toString().matchAll(/saved (\d+)/g)) last = Number(m[1]);
      if (last >= minSaved && !killing) {
        killing = true;
        setTimeout(() => child.kill('SIGKILL'), extraMs);
      }
    });
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL') resolve(last);
      else reject(new Error(`writer exited with ${code}: ${err}`));
    });
  });
}

describe('checkpoint atomicity under a real SIGKILL', () => {
  it('after killing a process mid-save, the newest complete checkpoint loads intact', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pkd-kill-'));
    try {
      // One child (start-up costs seconds); it spends nearly all its time inside saveCheckpoint, so the kill
      // lands mid-save at a random phase.
      for (const [round, extraMs] of [[0, 5 + Math.floor(Math.random() * 20)]] as const) {
        const saved = await runAndKill(path.join(dir, String(round)), 3, extraMs);
        const warnings: string[] = [];
        const ck = await loadLatestCheckpoint<{ step: number }>(path.join(dir, String(round)), { warn: (m) => warnings.push(m) });
        expect(ck).toBeDefined();
        if (!ck) return;
        // The last reported save is durable; one more may have completed before the kill.
        expect(ck.step).toBeGreaterThanOrEqual(saved);
        expect(ck.step).toBeLessThanOrEqual(saved + 1);
        expect(ck.state.step).toBe(ck.step);
        const data = await ck.tensors.w!.data();
        expect(data.length).toBe(128 * 256);
        expect(data.every((v) => v === ck.step)).toBe(true);
        ck.dispose();
        expect(warnings).toEqual([]);
      }
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
