import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'bullmq';
import { Redis, type RedisOptions } from 'ioredis';
import { ConfigError } from '@promptkd/core';
import { QueueAuthError, QueueConnectionError } from './errors.js';

/**
 * Where the Redis URL and password come from. Each field wins over the ones below it:
 * `url` (e.g. `--queue`), then the first line of `urlFile`, then `PROMPTKD_QUEUE`; the password from `password`,
 * then `passwordFile`, then `PROMPTKD_REDIS_PASSWORD`, then the URL's own `redis://:password@host`.
 */
export interface RedisSource {
  readonly url?: string;
  readonly urlFile?: string;
  readonly password?: string;
  readonly passwordFile?: string;
}

/** A Redis connection ready for BullMQ, and how to name it in logs (never with the password). */
export interface RedisTarget {
  /** ioredis options (host, port, db, username, password, tls). */
  readonly options: RedisOptions;
  /** `redis://host:port/db` or `rediss://user:***@host:port/db`: safe to print. */
  readonly display: string;
}

const firstLine = (file: string): string => readFileSync(file, 'utf8').split(/\r?\n/)[0]!.trim();

/**
 * Resolves a Redis URL (`redis://` or TLS `rediss://`, `[user[:password]@]host[:port][/db]`) and its password
 * from arguments, files or the environment ({@link RedisSource}). Throws `ConfigError` when there is no URL or
 * it is malformed; the error names the URL without its password.
 */
export function resolveRedis(source: RedisSource = {}, env: NodeJS.ProcessEnv = process.env): RedisTarget {
  const raw = source.url ?? (source.urlFile ? firstLine(source.urlFile) : undefined) ?? env.PROMPTKD_QUEUE;
  if (!raw) {
    throw new ConfigError('No Redis URL: pass --queue redis://host:6379/0, --queue-file <file>, or set PROMPTKD_QUEUE.', { field: 'queue' });
  }
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError(`The Redis URL is not a URL (expected redis://[user[:password]@]host[:port][/db]); got '${redact(raw)}'.`, { field: 'queue' });
  }
  if (url.protocol !== 'redis:' && url.protocol !== 'rediss:') {
    throw new ConfigError(`The Redis URL must start with redis:// or rediss:// (TLS); got '${url.protocol}//'.`, { field: 'queue' });
  }
  const dbText = url.pathname.replace(/^\//, '');
  const db = dbText === '' ? 0 : Number(dbText);
  if (!Number.isInteger(db) || db < 0) throw new ConfigError(`The Redis database in the URL must be a number (/0, /1, …); got '/${dbText}'.`, { field: 'queue' });
  const password =
    source.password ??
    (source.passwordFile ? firstLine(source.passwordFile) : undefined) ??
    env.PROMPTKD_REDIS_PASSWORD ??
    (url.password ? decodeURIComponent(url.password) : undefined);
  const username = url.username ? decodeURIComponent(url.username) : undefined;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1';
  const port = url.port ? Number(url.port) : 6379;
  const tls = url.protocol === 'rediss:';
  const options: RedisOptions = {
    host,
    port,
    db,
    ...(username ? { username } : {}),
    ...(password ? { password } : {}),
    ...(tls ? { tls: { servername: host } } : {}),
  };
  const who = username || password ? `${username ?? ''}${password ? ':***' : ''}@` : '';
  return { options, display: `${url.protocol}//${who}${url.host}/${db}` };
}

/** `scheme://user:***@host…`: a URL string with any password replaced. */
export function redact(text: string): string {
  return text.replace(/(rediss?:\/\/[^:@/\s]*:)[^@\s]*@/g, '$1***@');
}

/**
 * Connects once, without retrying, and pings: resolves when Redis answers, otherwise throws within `timeoutMs`
 * (default 10 s) a `QueueAuthError` (wrong password, or a password is needed) or a `QueueConnectionError`
 * (refused, unreachable, timed out). Call this before creating BullMQ objects, which retry forever.
 */
export async function checkRedis(target: RedisTarget, options: { timeoutMs?: number } = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const client = new Redis({
    ...target.options,
    lazyConnect: true,
    connectTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    enableOfflineQueue: false,
    retryStrategy: () => null,
    reconnectOnError: () => false,
  });
  let lastError: unknown;
  client.on('error', (err: unknown) => (lastError = err));
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(Object.assign(new Error(`no answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
    });
    await Promise.race([
      (async () => {
        await client.connect();
        await client.ping();
      })(),
      timeout,
    ]);
  } catch (err) {
    throw describeFailure(target, lastError ?? err);
  } finally {
    if (timer) clearTimeout(timer);
    client.disconnect();
  }
}

function describeFailure(target: RedisTarget, err: unknown): Error {
  const message = redact(String((err as Error)?.message ?? err));
  const code = (err as { code?: string })?.code;
  const details = { redis: target.display, reason: message };
  if (/WRONGPASS|invalid password|invalid username-password/i.test(message)) {
    return new QueueAuthError(
      `Redis at ${target.display} refused the password (WRONGPASS). Check PROMPTKD_REDIS_PASSWORD, --redis-password-file or the URL's password.`,
      details,
    );
  }
  if (/NOAUTH|Authentication required/i.test(message)) {
    return new QueueAuthError(
      `Redis at ${target.display} needs a password. Set PROMPTKD_REDIS_PASSWORD or pass --redis-password-file <file> (it is never printed).`,
      details,
    );
  }
  const why = code ?? message;
  return new QueueConnectionError(
    `Cannot reach Redis at ${target.display} (${why}). Start redis-server there (or check the host, port and --queue URL), then run the command again.`,
    details,
    { cause: err },
  );
}

/**
 * BullMQ connection options for a target: ioredis reconnects for ever (`maxRetriesPerRequest: null`, as BullMQ
 * workers require), so producers and workers ride out a Redis restart.
 */
export function bullConnection(target: RedisTarget): ConnectionOptions {
  return { ...target.options, maxRetriesPerRequest: null } as ConnectionOptions;
}
