import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The dataset cache directory: `$PROMPTKD_DATA` when set, otherwise `~/.cache/promptkd/data`
 * (`$XDG_CACHE_HOME/promptkd/data` when `XDG_CACHE_HOME` is set).
 */
export function dataCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.PROMPTKD_DATA) return resolve(env.PROMPTKD_DATA);
  const base = env.XDG_CACHE_HOME ? resolve(env.XDG_CACHE_HOME) : join(homedir(), '.cache');
  return join(base, 'promptkd', 'data');
}
