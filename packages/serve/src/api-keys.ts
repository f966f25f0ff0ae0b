import { createHash, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { ConfigError } from '@promptkd/core';

/** One API key: the secret, an optional name for logs, and the prompt ids it may see (`*`: all). */
export interface ApiKey {
  readonly key: string;
  readonly name?: string;
  readonly prompts: '*' | readonly string[];
}

/** What a request's key allows. */
export interface KeyScope {
  readonly name: string;
  /** Every prompt (and the operator routes `/v1/status`, `/metrics`). */
  readonly all: boolean;
  readonly prompts: ReadonlySet<string>;
}

const MIN_KEY_LENGTH = 16;

const keyFileSchema = z.object({
  keys: z
    .array(
      z.object({
        key: z.string().min(MIN_KEY_LENGTH, `keys must be at least ${MIN_KEY_LENGTH} characters`),
        name: z.string().optional(),
        prompts: z.union([z.literal('*'), z.array(z.string().min(1))]).default('*'),
      }),
    )
    .min(1, 'list at least one key'),
});

/**
 * Reads an API key file, JSON:
 * `{"keys": [{"name": "ops", "key": "…", "prompts": "*"}, {"name": "acme", "key": "…", "prompts": ["fashion-a"]}]}`.
 * `prompts` defaults to `*` (every prompt). Keys are at least 16 characters.
 * @throws ConfigError naming the file and the first problem.
 */
export function readApiKeyFile(file: string): ApiKey[] {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, 'utf8'));
  } catch (e) {
    throw new ConfigError(`API key file ${file} cannot be read as JSON: ${(e as Error).message}.`, { field: 'apiKeyFile', file }, { cause: e });
  }
  return parseApiKeys(json, file);
}

/** Validates API keys given as data (see {@link readApiKeyFile} for the shape). */
export function parseApiKeys(json: unknown, source = 'apiKeys'): ApiKey[] {
  const parsed = keyFileSchema.safeParse(Array.isArray(json) ? { keys: json } : json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(
      `${source}: ${issue?.path.join('.') || '(root)'}: ${issue?.message ?? 'invalid'}. ` +
        'Expected {"keys": [{"key": "<at least 16 characters>", "name": "…", "prompts": "*" | ["prompt-id", …]}]}.',
      { field: 'apiKeys', source },
    );
  }
  const seen = new Set<string>();
  for (const k of parsed.data.keys) {
    if (seen.has(k.key)) throw new ConfigError(`${source}: the same key is listed twice${k.name ? ` ('${k.name}')` : ''}.`, { field: 'apiKeys' });
    seen.add(k.key);
  }
  return parsed.data.keys;
}

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();

/**
 * Bearer-token check against a fixed key list in constant time: the candidate's SHA-256 is compared with every
 * key's SHA-256 by `crypto.timingSafeEqual` (equal lengths, no early exit), so neither a key's content nor which
 * key matched shows in the response time.
 */
export class ApiKeyGate {
  private readonly entries: { digest: Buffer; scope: KeyScope }[];

  constructor(keys: readonly ApiKey[]) {
    this.entries = keys.map((k, i) => ({
      digest: digest(k.key),
      scope: { name: k.name ?? `key ${i + 1}`, all: k.prompts === '*', prompts: new Set(k.prompts === '*' ? [] : k.prompts) },
    }));
  }

  /** The scope of an `Authorization` header value (`Bearer <key>`), or undefined when it matches no key. */
  authorize(header: string | undefined): KeyScope | undefined {
    const m = /^Bearer +(\S+) *$/i.exec(header ?? '');
    const candidate = digest(m?.[1] ?? '');
    let found: KeyScope | undefined;
    for (const e of this.entries) {
      if (timingSafeEqual(candidate, e.digest) && m) found = e.scope;
    }
    return found;
  }
}

/** Whether a scope may see a prompt. */
export function allows(scope: KeyScope | undefined, promptId: string): boolean {
  return scope === undefined || scope.all || scope.prompts.has(promptId);
}
