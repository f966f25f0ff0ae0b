import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

// Issue 11: a smoke KiOP run is SIGKILLed mid-run (after its first epoch checkpoint, inside the next epoch),
// resumed with the same command, and must end with exactly the numbers of an uninterrupted run.
const cli = fileURLToPath(new URL('../../cli/src/promptkd.ts', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'promptkd-kill-'));
const env = { ...process.env, PROMPTKD_MODELS: join(work, 'models'), PROMPTKD_BACKEND: 'wasm', PROMPTKD_PROGRESS: 'silent' };
const args = (out: string) => [
  'kiop', 'run', '--host', 'mnist', '--source', 'fashionMnist', '--variant', 'kiopBF', '--preset', 'smoke', '--seed', '3',
  '--set', 'epochs=3', '--set', 'kdSteps=4', '--out', out,
];
const cellDir = (out: string) => join(out, 'mnist__fashionMnist', 'kiopBF__s3');

function start(out: string): ChildProcess {
  return fork(cli, args(out), { execArgv: ['--conditions=@promptkd/source', '--import', 'tsx'], env, stdio: ['ignore', 'ignore', 'pipe', 'ipc'] });
}

function finish(child: ChildProcess): Promise<number | null> {
  let err = '';
  child.stderr?.on('data', (d) => (err += String(d)));
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('exit', (code, signal) => (code === 0 || signal === 'SIGKILL' ? resolve(code) : reject(new Error(`exit ${code ?? signal}\n${err.slice(-2000)}`))));
  });
}

const results = (out: string) => JSON.parse(readFileSync(join(cellDir(out), 'results.json'), 'utf8')).results;

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('kill and resume a KiOP run', () => {
  it('resumes a SIGKILLed run to the same final metrics as an uninterrupted one', async () => {
    const straight = join(work, 'straight');
    await finish(start(straight)); // also pretrains and caches the smoke host and source for the next runs

    const killed = join(work, 'killed');
    const child = start(killed);
    const done = finish(child);
    const ckpts = join(cellDir(killed), 'checkpoints');
    // wait for the first epoch's checkpoint, then kill inside the second epoch
    for (let i = 0; i < 1200 && !(existsSync(ckpts) && readdirSync(ckpts).some((f) => f.endsWith('.json') && f.startsWith('ckpt-'))); i++) {
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill('SIGKILL');
    expect(await done).toBe(null);
    expect(existsSync(join(cellDir(killed), 'results.json'))).toBe(false);

    await finish(start(killed)); // same command: resumes from the last good checkpoint
    const a = results(straight);
    const b = results(killed);
    // every epoch's metrics, mean loss terms and synthesis losses, bit for bit (only the timing differs)
    const strip = (e: Record<string, unknown>) => ({ ...e, seconds: undefined });
    expect(b.epochs.map(strip)).toEqual(a.epochs.map(strip));
    expect(b.final).toEqual(a.final);
    expect(b.best).toEqual(a.best);
    // the second process really continued from a checkpoint (epoch ≥ 1), it did not start over
    const events = readFileSync(join(cellDir(killed), 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    const resumed = events.filter((e) => e.event === 'resumed');
    expect(resumed).toHaveLength(1);
    expect(resumed[0].fromEpoch).toBeGreaterThanOrEqual(1);
    expect(events.filter((e) => e.epoch === 0 && e.event === undefined)).toHaveLength(1);
  }, 600_000);
});
