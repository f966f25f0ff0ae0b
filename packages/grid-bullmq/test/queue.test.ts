import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runGrid } from '@promptkd/experiments';
import {
  checkRedis,
  collectGrid,
  createRedisGridQueue,
  formatStatus,
  gridStatus,
  QueueAuthError,
  QueueConnectionError,
  resolveRedis,
  runGridOnQueue,
  startGridWorker,
  type GridCellKind,
  type GridWorker,
} from '../src/index.js';
import { REDIS_MISSING, redisServer, startTestRedis, type TestRedis } from '@promptkd/testing';

interface SumConfig {
  readonly a: number;
  readonly b: number;
  readonly fail?: boolean;
}

const work = mkdtempSync(join(tmpdir(), 'promptkd-gridq-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A toy cell kind: writes results.json, a figure and a checkpoint; counts its runs per cell. */
function sumKind(runs: string[], options: { schemaVersion?: string } = {}): GridCellKind<SumConfig, number> {
  return {
    name: 'sum',
    schemaVersion: options.schemaVersion ?? 's1',
    resolve: (c) => ({ ...c, total: c.a + c.b }),
    async run(config, ctx) {
      runs.push(ctx.cell);
      if (config.fail) throw new Error(`cell ${ctx.cell}: loss is NaN at step 3`);
      mkdirSync(join(ctx.runDir, 'checkpoints'), { recursive: true });
      mkdirSync(join(ctx.runDir, 'figures'), { recursive: true });
      writeFileSync(join(ctx.runDir, 'checkpoints', 'ckpt.bin'), Buffer.alloc(1024));
      writeFileSync(join(ctx.runDir, 'figures', 'p.png'), Buffer.from([137, 80, 78, 71, 0, 255]));
      writeFileSync(join(ctx.runDir, 'results.json'), JSON.stringify({ results: { sum: config.a + config.b } }));
      return config.a + config.b;
    },
  };
}

describe('resolveRedis', () => {
  it('reads host, port, db, TLS and the password from the URL, a file or the environment, and never shows it', () => {
    const t = resolveRedis({ url: 'rediss://alice:s3cret@example.org:6380/2' }, {});
    expect(t.options).toMatchObject({ host: 'example.org', port: 6380, db: 2, username: 'alice', password: 's3cret', tls: { servername: 'example.org' } });
    expect(t.display).toBe('rediss://alice:***@example.org:6380/2');
    const file = join(work, 'pw');
    writeFileSync(file, 'from-file\n');
    expect(resolveRedis({ url: 'redis://h:1/0', passwordFile: file }, { PROMPTKD_REDIS_PASSWORD: 'env' }).options.password).toBe('from-file');
    expect(resolveRedis({}, { PROMPTKD_QUEUE: 'redis://h', PROMPTKD_REDIS_PASSWORD: 'env' }).options).toMatchObject({ host: 'h', port: 6379, db: 0, password: 'env' });
    expect(resolveRedis({}, { PROMPTKD_QUEUE: 'redis://h', PROMPTKD_REDIS_PASSWORD: 'env' }).display).toBe('redis://:***@h/0');
    expect(() => resolveRedis({}, {})).toThrow(/No Redis URL/);
    expect(() => resolveRedis({ url: 'http://h' }, {})).toThrow(/redis:\/\/ or rediss:\/\//);
  });
});

describe('checkRedis: an unusable Redis is a typed error, not a hang', () => {
  it('unreachable: QueueConnectionError well within 10 s', async () => {
    const t0 = Date.now();
    const err = await checkRedis(resolveRedis({ url: 'redis://127.0.0.1:1/0' }, {})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QueueConnectionError);
    expect((err as Error).message).toMatch(/Cannot reach Redis at redis:\/\/127\.0\.0\.1:1\/0 \(ECONNREFUSED\)/);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  describe.skipIf(!redisServer)(`with a password${redisServer ? '' : ` (skipped: ${REDIS_MISSING})`}`, () => {
    let redis: TestRedis;
    beforeAll(async () => (redis = await startTestRedis({ password: 'right-pw' })));
    afterAll(() => redis?.stop());

    it('a wrong password says so and does not print it; a missing one asks for it; the right one works', async () => {
      const wrong = await checkRedis(resolveRedis({ url: redis.url, password: 'wrong-pw' }, {})).catch((e: unknown) => e);
      expect(wrong).toBeInstanceOf(QueueAuthError);
      expect((wrong as Error).message).toMatch(/refused the password \(WRONGPASS\)/);
      expect(JSON.stringify({ m: (wrong as Error).message, d: (wrong as QueueAuthError).details })).not.toContain('wrong-pw');
      const none = await checkRedis(resolveRedis({ url: redis.url }, {})).catch((e: unknown) => e);
      expect(none).toBeInstanceOf(QueueAuthError);
      expect((none as Error).message).toMatch(/needs a password/);
      await expect(checkRedis(resolveRedis({ url: redis.url }, { PROMPTKD_REDIS_PASSWORD: 'right-pw' }))).resolves.toBeUndefined();
    });
  });
});

describe.skipIf(!redisServer)(`BullMQ grid queue${redisServer ? '' : ` (skipped: ${REDIS_MISSING})`}`, () => {
  let redis: TestRedis;
  const workers: GridWorker[] = [];
  beforeAll(async () => (redis = await startTestRedis()));
  afterAll(async () => {
    await Promise.all(workers.map((w) => w.close(true)));
    await redis?.stop();
  });
  const location = (queueName: string) => ({ redis: resolveRedis({ url: redis.url }, {}), queueName });
  const worker = async (queueName: string, runs: string[], extra: { version?: string; schemaVersion?: string; name?: string } = {}) => {
    const w = await startGridWorker({
      ...location(queueName),
      version: extra.version ?? '1.0.0',
      kinds: [sumKind(runs, extra)],
      workDir: join(work, `w-${queueName}-${workers.length}`),
      name: extra.name ?? `w${workers.length}`,
      refuseDelayMs: 300,
      log: () => {},
    });
    workers.push(w);
    return w;
  };
  const cells = (n: number, fail?: number) => Array.from({ length: n }, (_, i) => ({ id: `pair/sum__s${i}`, config: { a: i, b: 10, ...(i === fail ? { fail: true } : {}) } }));
  const producer = (queueName: string, grid = 'g') =>
    createRedisGridQueue<SumConfig, number>({ ...location(queueName), grid, kind: 'sum', version: '1.0.0', schemaVersion: 's1', resolve: (c) => ({ ...c, total: c.a + c.b }), pollMs: 200, backoffMs: 100 });

  it('runs a grid on two workers, brings results and small files back, leaves checkpoints; enqueueing it again runs nothing', async () => {
    const runs: string[] = [];
    await worker('q1', runs);
    await worker('q1', runs);
    const root = join(work, 'grid1');
    const queue = producer('q1');
    const outcomes = await runGrid(cells(6), async () => 0, { root, queue, resume: false });
    expect(outcomes.map((o) => [o.status, o.result])).toEqual([0, 1, 2, 3, 4, 5].map((i) => ['done', i + 10]));
    expect(JSON.parse(readFileSync(join(root, 'pair', 'sum__s2', 'results.json'), 'utf8'))).toEqual({ results: { sum: 12 } });
    expect([...readFileSync(join(root, 'pair', 'sum__s2', 'figures', 'p.png'))]).toEqual([137, 80, 78, 71, 0, 255]);
    expect(existsSync(join(root, 'pair', 'sum__s2', 'checkpoints'))).toBe(false);
    expect([...runs].sort()).toEqual(cells(6).map((c) => c.id).sort());

    const again = await runGrid(cells(6), async () => 0, { root: join(work, 'grid1-again'), queue, resume: false });
    await queue.close();
    expect(again.map((o) => o.result)).toEqual([10, 11, 12, 13, 14, 15]);
    expect(runs).toHaveLength(6);
    const status = await gridStatus({ ...location('q1'), grid: 'g' });
    expect(status.map((s) => s.state)).toEqual(Array(6).fill('done'));
    expect(new Set(status.map((s) => s.worker))).toEqual(new Set(['w0', 'w1']));
    const collected = await collectGrid({ ...location('q1'), grid: 'g', root: join(work, 'grid1-collect') });
    expect(collected).toEqual({ cells: cells(6).map((c) => c.id).sort(), kinds: ['sum'] });
    expect(existsSync(join(work, 'grid1-collect', 'pair', 'sum__s5', 'results.json'))).toBe(true);

    const changed = producer('q1');
    await expect(changed.enqueue([{ id: 'pair/sum__s0', config: { a: 99, b: 1 } }], { root })).rejects.toThrow(/already has a cell 'pair\/sum__s0' with another config/);
    await changed.close();
  });

  it('a worker of another version refuses a job with a message and leaves it for a matching worker', async () => {
    const runsOld: string[] = [];
    const runsNew: string[] = [];
    const logs: string[] = [];
    const old = await startGridWorker({
      ...location('q2'), version: '0.9.0', kinds: [sumKind(runsOld)], workDir: join(work, 'old'), name: 'old', refuseDelayMs: 300, log: (l) => logs.push(l),
    });
    workers.push(old);
    const queue = producer('q2');
    await queue.enqueue(cells(1), { root: join(work, 'grid2') });
    const drained = queue.drain();
    for (let i = 0; i < 200 && !logs.some((l) => l.startsWith('refusing')); i++) await new Promise((r) => setTimeout(r, 50));
    expect(logs.find((l) => l.startsWith('refusing'))).toMatch(/refusing g\/pair\/sum__s0: the job was made by promptkd 1\.0\.0 and this worker runs promptkd 0\.9\.0; leaving it for another worker/);
    // refused jobs bounce between delayed, waiting and (briefly) active on the old worker
    let waiting = await gridStatus({ ...location('q2'), grid: 'g' });
    for (let i = 0; i < 100 && waiting[0]?.state !== 'waiting'; i++) waiting = await gridStatus({ ...location('q2'), grid: 'g' });
    expect(waiting).toMatchObject([{ state: 'waiting', attempts: 0 }]);
    expect(formatStatus(waiting)).toMatch(/waiting {2}\(refused by old: the job was made by promptkd 1\.0\.0/);
    await worker('q2', runsNew, { name: 'new' });
    const [outcome] = await drained;
    await queue.close();
    expect(outcome).toMatchObject({ status: 'done', result: 10 });
    expect(runsOld).toEqual([]);
    expect(runsNew).toEqual(['pair/sum__s0']);
    expect((await gridStatus({ ...location('q2'), grid: 'g' }))[0]).toMatchObject({ state: 'done', worker: 'new', attempts: 1 });
  });

  it('a cell that always fails is marked failed after its attempts, with its error; the others finish', async () => {
    const runs: string[] = [];
    await worker('q3', runs);
    const queue = producer('q3');
    const outcomes = await runGrid(cells(3, 1), async () => 0, { root: join(work, 'grid3'), queue, resume: false, continueOnError: true });
    await queue.close();
    expect(outcomes.map((o) => o.status)).toEqual(['done', 'failed', 'done']);
    expect(String((outcomes[1]!.error as Error).message)).toMatch(/cell pair\/sum__s1 failed after 2 attempt\(s\): cell pair\/sum__s1: loss is NaN at step 3/);
    expect(runs.filter((r) => r === 'pair/sum__s1')).toHaveLength(2);
    const status = await gridStatus({ ...location('q3'), grid: 'g' });
    expect(status.map((s) => s.state)).toEqual(['done', 'failed', 'done']);
    expect(formatStatus(status)).toMatch(/grid g \(sum\): 2 done, 0 running, 0 waiting, 1 failed/);
    expect(formatStatus(status)).toMatch(/pair\/sum__s1 +failed {2}\(cell pair\/sum__s1: loss is NaN at step 3\)/);
  });

  it('runGridOnQueue: detached, enqueues and returns; attached, waits for the workers, writes the files and logs each outcome', async () => {
    const runs: string[] = [];
    const lines: string[] = [];
    const root = join(work, 'gridq4');
    const kind = sumKind(runs);
    const queue = { queue: redis.url, queueName: 'q4', attempts: 1 };
    const run = (detach: boolean) =>
      runGridOnQueue({ kind, cells: cells(3, 2), root, queue: { ...queue, detach }, log: (l) => lines.push(l), noun: 'sums', version: '1.0.0', pollMs: 200 });
    expect(await run(true)).toBeUndefined();
    expect(lines).toEqual([`grid 'gridq4': 3 sums on BullMQ queue 'q4' on ${resolveRedis({ url: redis.url }, {}).display}, grid 'gridq4'`]);
    expect((await gridStatus({ ...location('q4'), grid: 'gridq4' })).map((c) => c.state)).toEqual(['waiting', 'waiting', 'waiting']);

    await worker('q4', runs);
    const outcomes = await run(false);
    expect(outcomes!.map((o) => [o.cell.id, o.status, o.result])).toEqual([
      ['pair/sum__s0', 'done', 10],
      ['pair/sum__s1', 'done', 11],
      ['pair/sum__s2', 'failed', undefined],
    ]);
    expect(String((outcomes![2]!.error as Error).message)).toMatch(/cell pair\/sum__s2 failed after 1 attempt\(s\): cell pair\/sum__s2: loss is NaN at step 3/);
    expect(JSON.parse(readFileSync(join(root, 'pair', 'sum__s1', 'results.json'), 'utf8'))).toEqual({ results: { sum: 11 } });
    // enqueued once: the done cells ran once (a cell that failed before the attached call is retried by its enqueue)
    expect(runs.filter((r) => r !== 'pair/sum__s2').sort()).toEqual(['pair/sum__s0', 'pair/sum__s1']);
    expect(lines[1]).toMatch(/^grid 'gridq4': 3 sums on BullMQ queue 'q4' .*; waiting for workers \(promptkd worker\)$/);
    expect(lines.slice(2).sort()).toEqual([
      'done: pair/sum__s0',
      'done: pair/sum__s1',
      expect.stringMatching(/^failed: pair\/sum__s2 \(cell pair\/sum__s2 failed after 1 attempt\(s\): .*loss is NaN at step 3\)$/),
    ]);
  });
});
