import { fork, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { REDIS_MISSING, redisServer, startTestRedis, type TestRedis } from '@promptkd/testing';

// A smoke KiOP grid (2 variants × 2 seeds) on BullMQ workers against a real redis-server, each check against the
// same grid run in-process: equal tables, every cell completed exactly once, through a worker SIGKILLed mid-cell,
// a Redis killed and restarted mid-grid, and producers started twice on one grid.
const cli = fileURLToPath(new URL('../src/promptkd.ts', import.meta.url));
const execArgv = ['--conditions=@promptkd/source', '--import', 'tsx'];
const work = mkdtempSync(join(tmpdir(), 'promptkd-gridq-cli-'));
const env = { ...process.env, PROMPTKD_MODELS: join(work, 'models'), PROMPTKD_BACKEND: 'wasm', PROMPTKD_PROGRESS: 'silent', PROMPTKD_NATIVE_THREADS: '1' };
const gridArgs = (out: string) => ['kiop', 'grid', '--pairs', 'mnist:fashionMnist', '--variants', 'kiopT,kiopB', '--seeds', '0,1', '--preset', 'smoke', '--out', out];
const CELLS = ['kiopB__s0', 'kiopB__s1', 'kiopT__s0', 'kiopT__s1'].map((c) => `mnist__fashionMnist/${c}`);

interface Proc {
  readonly child: ChildProcess;
  readonly stderr: () => string;
  readonly stdout: () => string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}
const running: Proc[] = [];

function start(args: string[], extraEnv: Record<string, string> = {}): Proc {
  const child = fork(cli, args, { execArgv, env: { ...env, ...extraEnv }, stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
  let out = '';
  let err = '';
  child.stdout?.on('data', (d) => (out += String(d)));
  child.stderr?.on('data', (d) => (err += String(d)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const p = { child, stderr: () => err, stdout: () => out, exited };
  running.push(p);
  return p;
}

async function finish(p: Proc): Promise<Proc> {
  const { code } = await p.exited;
  expect(code, p.stderr().slice(-3000)).toBe(0);
  return p;
}

async function until(what: string, test: () => boolean, seconds = 300): Promise<void> {
  for (let i = 0; i < seconds * 20; i++) {
    if (test()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The CSV table without its wall-time column. */
const table = (out: string) =>
  readFileSync(join(out, 'kiop-results.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, -1).join(','));
/** Every cell's per-epoch metrics, final and best results, timing aside. */
const results = (out: string) =>
  CELLS.map((c) => {
    const r = JSON.parse(readFileSync(join(out, c, 'results.json'), 'utf8')).results;
    return { epochs: r.epochs.map((e: Record<string, unknown>) => ({ ...e, seconds: undefined })), final: r.final, best: r.best };
  });
/** `done <job id>` lines of worker logs: one per completed cell. */
const doneLines = (workers: readonly Proc[]) => workers.flatMap((w) => w.stderr().split('\n').filter((l) => l.startsWith('done ')).map((l) => l.split(' ')[1]));
const startLines = (workers: readonly Proc[]) => workers.flatMap((w) => w.stderr().split('\n').filter((l) => l.startsWith('start ')));

describe.skipIf(!redisServer)(`kiop grid on BullMQ workers${redisServer ? '' : ` (skipped: ${REDIS_MISSING})`}`, () => {
  let redis: TestRedis;
  const ref = join(work, 'ref');
  const workers = (tag: string, n: number, extra: string[] = []) =>
    Array.from({ length: n }, (_, i) => start(['worker', '--queue', redis.url, '--name', `${tag}-w${i}`, '--work-dir', join(work, `${tag}-w${i}`), ...extra]));

  beforeAll(async () => {
    redis = await startTestRedis();
    await finish(start([...gridArgs(ref), '--jobs', '2'])); // the in-process reference; also pretrains the models
  }, 600_000);
  afterEach(async () => {
    for (const p of running.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
      await p.exited;
    }
  });
  afterAll(async () => {
    await redis?.stop();
    rmSync(work, { recursive: true, force: true });
  });

  it('two worker processes give the in-process table; status names the workers', async () => {
    const ws = workers('t1', 2);
    const out = join(work, 't1');
    await finish(start([...gridArgs(out), '--queue', redis.url]));
    expect(table(out)).toEqual(table(ref));
    expect(results(out)).toEqual(results(ref));
    expect(doneLines(ws).sort()).toEqual(CELLS.map((c) => `t1/${c}`));
    const status = await finish(start(['grid', 'status', '--queue', redis.url, '--grid', 't1']));
    expect(status.stdout()).toMatch(/grid t1 \(kiop\): 4 done, 0 running, 0 waiting, 0 failed/);
    expect(status.stdout()).toMatch(/mnist__fashionMnist\/kiopT__s0 +done on t1-w[01] in /);
  }, 600_000);

  it('a worker SIGKILLed mid-cell: the cell is re-queued, resumed from its checkpoint on the shared folder, and every cell completes once', async () => {
    const shared = join(work, 'shared');
    const ws = workers('t2', 2, ['--shared-dir', shared, '--lock-seconds', '2']);
    const out = join(work, 't2');
    const producer = start([...gridArgs(out), '--queue', redis.url]);
    // wait until a cell has written its first epoch's checkpoint, then kill the worker running it
    let victim: Proc | undefined;
    let cell = '';
    await until('a running cell with a checkpoint', () => {
      for (const w of ws) {
        const started = w.stderr().match(/^start t2\/(\S+)/m);
        if (!started) continue;
        const dir = join(shared, 'runs', 't2', started[1]!, 'checkpoints');
        if (existsSync(dir) && readdirSync(dir).some((f) => /^ckpt-.*\.json$/.test(f))) {
          victim = w;
          cell = started[1]!;
          return true;
        }
      }
      return false;
    });
    victim!.child.kill('SIGKILL');
    await victim!.exited;
    expect(victim!.stderr()).not.toMatch(new RegExp(`^done t2/${cell}`, 'm'));
    await finish(producer);
    expect(table(out)).toEqual(table(ref));
    expect(results(out)).toEqual(results(ref));
    expect(doneLines(ws).sort()).toEqual(CELLS.map((c) => `t2/${c}`));
    const survivor = ws.find((w) => w !== victim)!;
    expect(survivor.stderr()).toMatch(new RegExp(`^start t2/${cell} \\(attempt 1, re-queued 1×\\)`, 'm'));
    const events = readFileSync(join(out, cell, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    expect(events.filter((e) => e.event === 'resumed')).toHaveLength(1);
  }, 600_000);

  it('Redis killed and restarted mid-grid: workers and producer reconnect and the grid completes', async () => {
    const ws = workers('t3', 2);
    const out = join(work, 't3');
    const producer = start([...gridArgs(out), '--queue', redis.url]);
    await until('the first finished cell', () => doneLines(ws).length >= 1);
    await redis.kill();
    await new Promise((r) => setTimeout(r, 1500));
    await redis.start();
    await finish(producer);
    expect(table(out)).toEqual(table(ref));
    expect(doneLines(ws).sort()).toEqual(CELLS.map((c) => `t3/${c}`));
  }, 600_000);

  it('a detached producer, then two producers at once on the same grid: no cell runs twice; collect writes the same table', async () => {
    const detached = await finish(start([...gridArgs(join(work, 't4-a')), '--grid', 't4', '--queue', redis.url, '--detach']));
    expect(detached.stderr()).toMatch(/grid 't4': 4 cells on BullMQ queue 'promptkd-grid' on redis:\/\/127\.0\.0\.1:\d+\/0/);
    const waiting = await finish(start(['grid', 'status', '--queue', redis.url, '--grid', 't4']));
    expect(waiting.stdout()).toMatch(/grid t4 \(kiop\): 0 done, 0 running, 4 waiting, 0 failed/);
    const ws = workers('t4', 2);
    const [b, c] = [join(work, 't4-b'), join(work, 't4-c')];
    await Promise.all([finish(start([...gridArgs(b), '--grid', 't4', '--queue', redis.url])), finish(start([...gridArgs(c), '--grid', 't4', '--queue', redis.url]))]);
    expect(table(b)).toEqual(table(ref));
    expect(table(c)).toEqual(table(ref));
    expect(startLines(ws)).toHaveLength(4);
    expect(doneLines(ws).sort()).toEqual(CELLS.map((x) => `t4/${x}`));
    const collected = join(work, 't4-collect');
    await finish(start(['grid', 'collect', '--queue', redis.url, '--grid', 't4', '--out', collected]));
    expect(table(collected)).toEqual(table(ref));
    // the cells record their preset, so collect writes the claims table too, as the in-process grid does
    expect(readFileSync(join(collected, 'kiop-claims.md'), 'utf8')).toEqual(readFileSync(join(ref, 'kiop-claims.md'), 'utf8'));
  }, 600_000);
});

describe('an unusable Redis is a clear error, not a hang', () => {
  it('unreachable: the worker exits with E_QUEUE_CONNECTION', async () => {
    const t0 = Date.now();
    const p = start(['worker', '--queue', 'redis://127.0.0.1:1/0']);
    const { code } = await p.exited;
    expect(code).toBe(2);
    expect(p.stderr()).toMatch(/error \(E_QUEUE_CONNECTION\): Cannot reach Redis at redis:\/\/127\.0\.0\.1:1\/0 \(ECONNREFUSED\)/);
    expect(Date.now() - t0).toBeLessThan(60_000); // process start-up included; checkRedis itself gives up within 10 s
  }, 120_000);

  it.skipIf(!redisServer)('wrong password: E_QUEUE_AUTH that says so, without the password', async () => {
    const secured = await startTestRedis({ password: 'right-horse' });
    try {
      const p = start(['grid', 'status', '--queue', secured.url], { PROMPTKD_REDIS_PASSWORD: 'wrong-battery' });
      const { code } = await p.exited;
      expect(code).toBe(2);
      expect(p.stderr()).toMatch(/error \(E_QUEUE_AUTH\): Redis at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0 refused the password \(WRONGPASS\)/);
      expect(p.stderr() + p.stdout()).not.toContain('wrong-battery');
    } finally {
      await secured.stop();
    }
  }, 120_000);
});
