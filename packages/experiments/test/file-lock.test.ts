import { fork } from 'node:child_process';
import { appendFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { modelCacheLock, withFileLock } from '../src/index.js';

const work = mkdtempSync(join(tmpdir(), 'promptkd-lock-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('withFileLock', () => {
  it('modelCacheLock says once, with who is waiting, that another holder is pretraining the file', async () => {
    const lines: string[] = [];
    const lock = modelCacheLock((line) => lines.push(line), 'teacher');
    const file = join(work, 'cached.safetensors');
    const hold = (ms: number) => lock(file, async () => new Promise<number>((r) => setTimeout(() => r(ms), ms)));
    expect(await Promise.all([hold(300), hold(0)])).toEqual([300, 0]);
    expect(lines).toEqual(['teacher: another process is pretraining cached.safetensors; waiting for it']);
  });

  it('serialises holders in this process: the second waits for the first, is told so, and sees its file', async () => {
    const file = join(work, 'model.safetensors');
    const log = join(work, 'order.log');
    writeFileSync(log, '');
    let waited = 0;
    const make = (name: string) =>
      withFileLock(
        file,
        async () => {
          appendFileSync(log, `${name} in\n`);
          await new Promise((r) => setTimeout(r, 300));
          appendFileSync(log, `${name} out\n`);
          return name;
        },
        { retryMs: 50, onWait: () => waited++ },
      );
    expect(await Promise.all([make('a'), make('b')])).toEqual(['a', 'b']);
    const lines = readFileSync(log, 'utf8').trim().split('\n');
    expect(lines).toEqual(['a in', 'a out', 'b in', 'b out']);
    expect(waited).toBe(1);
  });

  it('goes on when the lock is lost mid-work (a late refresh on a loaded machine): reported, not a crash', async () => {
    const file = join(work, 'lost.safetensors');
    const lost: Error[] = [];
    const result = await withFileLock(
      file,
      async () => {
        rmSync(`${file}.lock`, { recursive: true }); // another process's takeover, as proper-lockfile sees it
        await new Promise((r) => setTimeout(r, 2500)); // past the next refresh (every 1 s here)
        return 'done';
      },
      { staleMs: 2000, onCompromised: (e) => lost.push(e) },
    );
    expect(result).toBe('done');
    expect(lost).toHaveLength(1);
    expect((lost[0] as Error & { code?: string }).code).toBe('ECOMPROMISED');
    expect(await withFileLock(file, async () => 'again', { staleMs: 2000 })).toBe('again'); // the file is usable
  }, 20_000);

  it('takes over the lock of a process that died holding it once the lock is stale', async () => {
    const file = join(work, 'dead.safetensors');
    // a child takes the lock and is killed without releasing it; the interval keeps it alive (a bare pending promise
    // would let it exit on its own, and proper-lockfile removes the lock of a process that exits)
    const script = join(work, 'holder.mts');
    writeFileSync(
      script,
      `import { withFileLock } from ${JSON.stringify(new URL('../src/file-lock.ts', import.meta.url).pathname)};\n` +
        `await withFileLock(${JSON.stringify(file)}, async () => { process.send!('locked'); await new Promise(() => setInterval(() => {}, 60_000)); }, { staleMs: 2000 });\n`,
    );
    const child = fork(script, [], { execArgv: ['--conditions=@promptkd/source', '--import', 'tsx'], stdio: ['ignore', 'ignore', 'inherit', 'ipc'] });
    await new Promise<void>((resolve) => child.on('message', () => resolve()));
    child.kill('SIGKILL');
    await new Promise((r) => child.on('exit', r));
    expect(existsSync(`${file}.lock`)).toBe(true); // the dead holder's lock is still there
    const t0 = Date.now();
    expect(await withFileLock(file, async () => 'mine', { staleMs: 2000, retryMs: 100 })).toBe('mine');
    expect(existsSync(`${file}.lock`)).toBe(false);
    expect(Date.now() - t0).toBeLessThan(20_000);
  }, 60_000);
});
