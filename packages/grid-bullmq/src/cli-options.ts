import { createRequire } from 'node:module';
import { resolveRedis, type RedisTarget } from './connection.js';

/** The promptkd version (every `@promptkd/*` library shares one): jobs carry it, workers compare it. */
export const PROMPTKD_VERSION: string = (createRequire(import.meta.url)('../package.json') as { version: string }).version;

/** Command-line flags for a queue (`[flags, description]` pairs, for commander's `.option`). */
export const QUEUE_OPTION_FLAGS: readonly (readonly [string, string])[] = [
  ['--queue [url]', 'Redis URL redis://host:6379/0 (TLS: rediss://); without a value, from PROMPTKD_QUEUE. Runs the cells on `promptkd worker`s'],
  ['--queue-file <file>', 'file whose first line is the Redis URL (keeps a password out of the command line)'],
  ['--redis-password-file <file>', 'file with the Redis password (else PROMPTKD_REDIS_PASSWORD, else the URL\'s); never printed'],
  ['--queue-name <name>', 'BullMQ queue name shared by producers and workers (default promptkd-grid)'],
];

/** Parsed values of {@link QUEUE_OPTION_FLAGS}. */
export interface QueueCliOptions {
  readonly queue?: string | boolean;
  readonly queueFile?: string;
  readonly redisPasswordFile?: string;
  readonly queueName?: string;
}

/** Whether the command was asked to use a queue (`--queue` or `--queue-file`). */
export function wantsQueue(o: QueueCliOptions): boolean {
  return o.queue !== undefined || o.queueFile !== undefined;
}

/** The Redis target of parsed queue options (see `resolveRedis` for where the URL and password come from). */
export function redisFromCli(o: QueueCliOptions, env: NodeJS.ProcessEnv = process.env): RedisTarget {
  return resolveRedis({ ...(typeof o.queue === 'string' ? { url: o.queue } : {}), urlFile: o.queueFile, passwordFile: o.redisPasswordFile }, env);
}
