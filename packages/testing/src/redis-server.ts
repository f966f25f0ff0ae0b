// Test helper: a throw-away redis-server on 127.0.0.1, a free port and a temp folder (AOF persistence on, so a
// killed and restarted server keeps its jobs). Tests skip with a one-line reason when redis-server is missing.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Path of redis-server, or undefined (then tests skip with {@link REDIS_MISSING}). */
export const redisServer: string | undefined = (() => {
  const r = spawnSync('sh', ['-c', 'command -v redis-server'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() ? r.stdout.trim() : undefined;
})();
export const REDIS_MISSING = 'redis-server is not installed (apt-get install redis-server; .ci/run installs it)';

/** Whether a Redis server answers PING on 127.0.0.1:`port` (`+PONG`, or `-NOAUTH` when it wants a password). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1000, () => done(false));
    socket.on('error', () => done(false));
    socket.on('connect', () => socket.write('PING\r\n'));
    socket.on('data', (d) => {
      reply += String(d);
      if (reply.includes('\r\n')) done(/^\+PONG|^-NOAUTH/.test(reply));
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** A running test Redis. */
export interface TestRedis {
  readonly port: number;
  /** `redis://127.0.0.1:<port>/0` (no password in it, even when the server has one). */
  readonly url: string;
  /** SIGKILLs the server (its AOF keeps what was written). */
  kill(): Promise<void>;
  /** Starts it again on the same port and folder; resolves when it answers. */
  start(): Promise<void>;
  /** Kills it and deletes its folder. */
  stop(): Promise<void>;
}

/** Starts a redis-server; `password` sets `requirepass`. */
export async function startTestRedis(options: { password?: string } = {}): Promise<TestRedis> {
  if (!redisServer) throw new Error(REDIS_MISSING);
  const dir = mkdtempSync(join(tmpdir(), 'promptkd-redis-'));
  let port = await freePort();
  let child: ChildProcess | undefined;
  const args = () => [
    '--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'yes', '--appendfsync', 'always',
    '--daemonize', 'no', '--protected-mode', 'no', '--loglevel', 'warning',
    ...(options.password ? ['--requirepass', options.password] : []),
  ];
  const exited = (c: ChildProcess) => new Promise<void>((r) => (c.exitCode !== null || c.signalCode !== null ? r() : c.once('exit', () => r())));
  const start = async () => {
    child = spawn(redisServer!, args(), { stdio: ['ignore', 'ignore', 'pipe'] });
    const deadline = Date.now() + 10_000;
    while (!(await answers(port))) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`redis-server did not start on port ${port}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  for (let tries = 0; ; tries++) {
    try {
      await start();
      break;
    } catch (err) {
      if (tries >= 3) throw err;
      if (child) {
        child.kill('SIGKILL');
        await exited(child);
      }
      port = await freePort();
    }
  }
  return {
    port,
    url: `redis://127.0.0.1:${port}/0`,
    async kill() {
      if (!child) return;
      child.kill('SIGKILL');
      await exited(child);
      child = undefined;
    },
    start,
    async stop() {
      if (child) {
        child.kill('SIGKILL');
        await exited(child);
        child = undefined;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
