// Load figure of the BullMQ grid queue (not part of `npm test`): a grid of ≥ 200 smoke KiOP cells run
//   (a) in-process: `promptkd kiop grid --jobs N` (N cell processes at a time), and
//   (b) on N `promptkd worker` processes (concurrency 1) fed by `promptkd kiop grid --queue`,
// with the same total concurrency, plus the queue's own cost per job: M no-op jobs through N workers.
// Starts its own redis-server on 127.0.0.1 (a free port, a temp folder). Run it niced on a shared machine:
//   nice -n 10 node --conditions=@promptkd/source --import tsx scripts/grid-load.ts [--seeds 25] [--workers 8] [--noop 2000]
import { execFileSync, fork, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runGrid } from '@promptkd/experiments';
import { createRedisGridQueue, resolveRedis, startGridWorker, type GridWorker } from '@promptkd/grid-bullmq';
import { startTestRedis } from '@promptkd/testing';
import { Redis } from 'ioredis';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const seeds = arg('seeds', 25);
const workers = arg('workers', 8);
const noop = arg('noop', 2000);
const cli = fileURLToPath(new URL('../apps/cli/src/promptkd.ts', import.meta.url));
const execArgv = ['--conditions=@promptkd/source', '--import', 'tsx'];
const work = mkdtempSync(join(tmpdir(), 'promptkd-gridload-'));
const env = { ...process.env, PROMPTKD_MODELS: join(work, 'models'), PROMPTKD_BACKEND: 'wasm', PROMPTKD_PROGRESS: 'silent', PROMPTKD_NATIVE_THREADS: '1' };
const pairs = 'mnist:fashionMnist,fashionMnist:mnist';
const variants = 'vanillaKd,kiopT,kiopB,kiopBF';
const seedList = Array.from({ length: seeds }, (_, i) => i).join(',');
const gridArgs = (out: string) => ['kiop', 'grid', '--pairs', pairs, '--variants', variants, '--seeds', seedList, '--preset', 'smoke', '--out', out];
const cells = 2 * 4 * seeds;
const log = (l: string) => process.stdout.write(`${l}  [${new Date().toISOString().slice(11, 19)}, load ${loadavg()[0]!.toFixed(1)}]\n`);

function run(args: string[]): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, [...execArgv, cli, ...args], { env, encoding: 'utf8', maxBuffer: 1 << 26 });
  if (r.status !== 0) throw new Error(`promptkd ${args.slice(0, 3).join(' ')} failed:\n${r.stderr.slice(-3000)}`);
  return (performance.now() - t0) / 1000;
}
const csvRows = (out: string) => readFileSync(join(out, 'kiop-results.csv'), 'utf8').trim().split('\n').map((l) => l.split(',').slice(0, -1).join(','));

const redis = await startTestRedis();
const procs: ChildProcess[] = [];
try {
  const model = execFileSync('sh', ['-c', "lscpu | grep 'Model name' | sed 's/.*: *//'"], { encoding: 'utf8' }).trim();
  log(`CPU: ${model}, ${cpus().length} logical cores; one native thread per cell process in both runners`);
  // The queue's own cost: no-op jobs through `workers` BullMQ workers in this process.
  const target = resolveRedis({ url: redis.url }, {});
  const ws: GridWorker[] = [];
  for (let i = 0; i < workers; i++) {
    ws.push(await startGridWorker({ redis: target, queueName: 'noop', version: 'x', kinds: [{ name: 'noop', schemaVersion: '1', run: async () => 0, outputs: () => [] }], workDir: join(work, 'noop'), log: () => {} }));
  }
  const queue = createRedisGridQueue<number, number>({ redis: target, queueName: 'noop', grid: 'noop', kind: 'noop', version: 'x', schemaVersion: '1' });
  const info = new Redis({ host: '127.0.0.1', port: redis.port });
  const redisCpu = async () => {
    const text = await info.info('cpu');
    const get = (k: string) => Number(new RegExp(`${k}:([\\d.]+)`).exec(text)?.[1] ?? 0);
    return get('used_cpu_user') + get('used_cpu_sys');
  };
  const cpu0 = process.cpuUsage();
  const redis0 = await redisCpu();
  const t0 = performance.now();
  await runGrid(Array.from({ length: noop }, (_, i) => ({ id: `c${i}`, config: i })), async () => 0, { queue, resume: false });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  const ours = (cpu.user + cpu.system) / 1e6;
  const theirs = (await redisCpu()) - redis0;
  info.disconnect();
  await queue.close();
  await Promise.all(ws.map((w) => w.close()));
  log(`no-op jobs: ${noop} through ${workers} workers in ${seconds.toFixed(2)} s: ${((1000 * seconds) / noop).toFixed(2)} ms per job of wall time, ${((1000 * seconds * workers) / noop).toFixed(1)} ms of a worker slot per job (enqueue, fetch, lock, complete, result back)`);
  log(`  CPU per no-op job: ${((1000 * ours) / noop).toFixed(2)} ms in the producer + ${workers} workers (one Node process), ${((1000 * theirs) / noop).toFixed(2)} ms in redis-server`);
  if (seeds > 0) await gridPhases();
} finally {
  for (const p of procs) if (p.exitCode === null) p.kill('SIGKILL');
  await redis.stop();
  rmSync(work, { recursive: true, force: true });
}

/** The same KiOP smoke grid through the queue's workers, then the in-process runner. */
async function gridPhases(): Promise<void> {
  log(`pretraining the smoke host and source once (not timed)`);
  run(['kiop', 'run', '--host', 'mnist', '--source', 'fashionMnist', '--variant', 'kiopT', '--preset', 'smoke', '--out', join(work, 'warm')]);
  run(['kiop', 'run', '--host', 'fashionMnist', '--source', 'mnist', '--variant', 'kiopT', '--preset', 'smoke', '--out', join(work, 'warm')]);

  for (let i = 0; i < workers; i++) {
    const child = fork(cli, ['worker', '--queue', redis.url, '--name', `w${i}`, '--work-dir', join(work, `w${i}`)], { execArgv, env, stdio: ['ignore', 'ignore', 'ignore', 'ipc'] });
    procs.push(child);
  }
  const queued = run([...gridArgs(join(work, 'queued')), '--queue', redis.url]);
  log(`${workers} worker processes: ${cells} cells: ${queued.toFixed(1)} s (includes worker start-up while the producer enqueues)`);
  for (const p of procs) p.kill('SIGTERM');

  const local = run([...gridArgs(join(work, 'local')), '--jobs', String(workers)]);
  log(`in-process runner: ${cells} cells, ${workers} at a time: ${local.toFixed(1)} s`);

  const same = JSON.stringify(csvRows(join(work, 'local'))) === JSON.stringify(csvRows(join(work, 'queued')));
  log(`tables equal (minutes column aside): ${same}`);
  log(`queue − in-process: ${(queued - local).toFixed(1)} s in all, ${(((queued - local) * workers) / cells).toFixed(2)} s of a worker slot per cell`);
}
