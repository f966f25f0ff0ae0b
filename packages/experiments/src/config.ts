import * as fs from 'node:fs';
import type * as z from 'zod';
import { ConfigError } from '@promptkd/core';

/** One problem found by {@link parseConfig}. */
export interface ConfigIssue {
  /** Dotted field path, e.g. `prompt.size` or `sources.0.model` (`(root)` for the top level). */
  readonly field: string;
  readonly message: string;
  /** Allowed values or keys, when the schema knows them. */
  readonly allowed?: readonly unknown[];
}

interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  getter?: () => z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  valueType?: z.ZodType;
  items?: z.ZodType[];
  options?: z.ZodType[];
  entries?: Record<string, unknown>;
  values?: unknown[];
  catchall?: z.ZodType;
}

const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'readonly', 'catch', 'nonoptional', 'success']);

/** Strips optional/default/nullable/pipe/lazy wrappers. */
function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let i = 0; i < 32; i++) {
    const d = defOf(s);
    if (WRAPPERS.has(d.type) && d.innerType) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else if (d.type === 'lazy' && d.getter) s = d.getter();
    else break;
  }
  return s;
}

/** The sub-schema at `path`, or undefined when the path leaves the schema. */
function schemaAt(schema: z.ZodType, path: readonly PropertyKey[]): z.ZodType | undefined {
  let s: z.ZodType | undefined = schema;
  for (const key of path) {
    if (!s) return undefined;
    const d = defOf(unwrap(s));
    if (d.type === 'object') s = d.shape?.[String(key)] ?? (d.catchall && defOf(d.catchall).type !== 'never' ? d.catchall : undefined);
    else if (d.type === 'array') s = d.element;
    else if (d.type === 'record') s = d.valueType;
    else if (d.type === 'tuple') s = d.items?.[Number(key)];
    else if (d.type === 'union' && d.options) {
      // e.g. a discriminated union of component configs: the first option that has the key.
      const options: z.ZodType[] = d.options;
      s = options.map((o) => schemaAt(o, [key])).find((x) => x !== undefined);
    } else return undefined;
  }
  return s;
}

function objectKeys(schema: z.ZodType | undefined): string[] | undefined {
  if (!schema) return undefined;
  const d = defOf(unwrap(schema));
  if (d.type === 'union' && d.options) {
    const keys = d.options.flatMap((o) => objectKeys(o) ?? []);
    return keys.length ? [...new Set(keys)] : undefined;
  }
  return d.type === 'object' && d.shape ? Object.keys(d.shape) : undefined;
}

const fieldName = (path: readonly PropertyKey[]): string => (path.length ? path.map(String).join('.') : '(root)');
const show = (v: unknown): string => {
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
};

interface RawIssue {
  code: string;
  path: PropertyKey[];
  message: string;
  values?: unknown[];
  keys?: string[];
  errors?: RawIssue[][];
  expected?: string;
  input?: unknown;
  options?: unknown[];
  discriminator?: string;
}

function describeIssue(schema: z.ZodType, issue: RawIssue): ConfigIssue {
  const field = fieldName(issue.path);
  const got = 'input' in issue && issue.code !== 'unrecognized_keys' ? `; got ${show(issue.input)}` : '';
  if (issue.code === 'invalid_value' && issue.values) {
    return { field, message: `expected one of ${issue.values.map(show).join(' | ')}${got}`, allowed: issue.values };
  }
  if (issue.code === 'unrecognized_keys' && issue.keys) {
    const allowed = objectKeys(schemaAt(schema, issue.path)) ?? [];
    return {
      field,
      message: `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map(show).join(', ')}; allowed keys: ${allowed.join(', ')}`,
      allowed,
    };
  }
  if (issue.code === 'invalid_union' && Array.isArray(issue.options) && issue.errors?.length === 0) {
    // Discriminated union with an unknown discriminator value.
    const input = issue.input as Record<string, unknown> | undefined;
    const value = input && typeof input === 'object' && issue.discriminator ? input[issue.discriminator] : issue.input;
    return { field, message: `expected one of ${issue.options.map(show).join(' | ')}; got ${show(value)}`, allowed: issue.options };
  }
  if (issue.code === 'invalid_union' && issue.errors) {
    const flat = issue.errors.flat();
    if (flat.length > 0 && flat.every((e) => e.code === 'invalid_value' && e.path.length === 0)) {
      const allowed = flat.flatMap((e) => e.values ?? []);
      return { field, message: `expected one of ${allowed.map(show).join(' | ')}${got}`, allowed };
    }
    const expected = [...new Set(flat.filter((e) => e.path.length === 0).map((e) => e.expected ?? e.message))];
    return { field, message: `does not match any allowed form (${expected.join(' | ')})${got}` };
  }
  if (issue.code === 'invalid_type' && issue.input === undefined) {
    return { field, message: `is required (expected ${issue.expected ?? 'a value'})` };
  }
  return { field, message: `${issue.message}${got}` };
}

/**
 * Validates `raw` against a zod 4 schema and returns the parsed value. On failure throws {@link ConfigError}
 * whose message lists every problem with its field path and, where the schema knows them, the allowed values
 * (`details.issues`, `details.field` = first bad field, `details.source`). `source` names where the data came
 * from (a file path, `preset 'demo'`, `--set`).
 */
export function parseConfig<S extends z.ZodType>(schema: S, raw: unknown, source: string): z.output<S> {
  const result = schema.safeParse(raw, { reportInput: true });
  if (result.success) return result.data;
  const issues = (result.error.issues as unknown as RawIssue[]).map((i) => describeIssue(schema, i));
  throw new ConfigError(
    `Invalid config (${source}):\n${issues.map((i) => `  - ${i.field}: ${i.message}`).join('\n')}`,
    { source, field: issues[0]?.field, issues },
  );
}

/** Reads a JSON config file and validates it with {@link parseConfig} (the file path is the source). */
export function readConfigFile<S extends z.ZodType>(schema: S, file: string): z.output<S> {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`Cannot read config file '${file}': ${(err as Error).message}`, { source: file }, { cause: err });
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`Config file '${file}' is not valid JSON: ${(err as Error).message}`, { source: file }, { cause: err });
  }
  return parseConfig(schema, raw, file);
}

const isPlainObject = (v: unknown): v is Record<string, unknown> =>
  v !== null && typeof v === 'object' && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/** Deep-merges `overrides` into `base` (plain objects merge key by key; arrays and scalars replace). Pure. */
export function applyOverrides<T>(base: T, overrides: unknown): T {
  if (!isPlainObject(base) || !isPlainObject(overrides)) return (overrides === undefined ? base : overrides) as T;
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(overrides)) out[k] = applyOverrides(out[k], v);
  return out as T;
}

function coerce(schema: z.ZodType, text: string, key: string): unknown {
  const d = defOf(unwrap(schema));
  const bad = (what: string): never => {
    throw new ConfigError(`--set ${key}=${text}: ${what}.`, { field: key, value: text });
  };
  switch (d.type) {
    case 'number': {
      const n = Number(text);
      if (text.trim() === '' || Number.isNaN(n)) bad('expected a number');
      return n;
    }
    case 'bigint':
      try {
        return BigInt(text);
      } catch {
        return bad('expected an integer');
      }
    case 'boolean':
      if (['true', '1', 'yes', 'on'].includes(text)) return true;
      if (['false', '0', 'no', 'off'].includes(text)) return false;
      return bad('expected true or false');
    case 'string':
    case 'enum':
      return text;
    case 'null':
      return null;
    case 'literal': {
      const hit = (d.values ?? []).find((v) => String(v) === text);
      return hit === undefined ? text : hit;
    }
    case 'array':
    case 'tuple': {
      if (text.trim().startsWith('[')) {
        try {
          return JSON.parse(text) as unknown;
        } catch {
          return bad('expected a JSON array or comma-separated values');
        }
      }
      const parts = text === '' ? [] : text.split(',');
      return parts.map((p, i) => {
        const el = d.type === 'array' ? d.element : d.items?.[i];
        return el ? coerce(el, p.trim(), `${key}.${i}`) : p;
      });
    }
    case 'union': {
      for (const option of d.options ?? []) {
        let v: unknown;
        try {
          v = coerce(option, text, key);
        } catch {
          continue;
        }
        if (option.safeParse(v).success) return v;
      }
      return text;
    }
    default:
      try {
        return JSON.parse(text) as unknown;
      } catch {
        return text;
      }
  }
}

/**
 * Turns CLI assignments such as `--set optim.lr=0.01 --set prompt.kind=pad --set seeds=0,1,2` into a nested
 * override object, coercing each value to the type the schema expects at that path (numbers, booleans,
 * enums, arrays as `a,b,c` or JSON, objects as JSON). Unknown paths throw {@link ConfigError} listing the
 * valid keys at that level. Values are validated afterwards, by {@link resolvePreset} / {@link parseConfig}.
 */
export function parseSetOverrides(schema: z.ZodType, assignments: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const a of assignments) {
    const eq = a.indexOf('=');
    if (eq <= 0) {
      throw new ConfigError(`--set expects key.path=value, got '${a}'.`, { field: a });
    }
    const key = a.slice(0, eq).trim();
    const value = a.slice(eq + 1);
    const path = key.split('.');
    for (let i = 0; i < path.length; i++) {
      if (!schemaAt(schema, path.slice(0, i + 1))) {
        const parent = path.slice(0, i).join('.') || '(root)';
        const keys = objectKeys(schemaAt(schema, path.slice(0, i)));
        throw new ConfigError(
          `--set ${key}: '${path[i]}' is not a field of ${parent}${keys ? `; fields: ${keys.join(', ')}` : ''}.`,
          { field: key, allowed: keys },
        );
      }
    }
    const leaf = schemaAt(schema, path) as z.ZodType;
    let node = out;
    path.forEach((p, i) => {
      if (i === path.length - 1) node[p] = coerce(leaf, value, key);
      else {
        if (!isPlainObject(node[p])) node[p] = {};
        node = node[p] as Record<string, unknown>;
      }
    });
  }
  return out;
}

/** The standard presets every experiment provides (ARCHITECTURE decision 8). */
export type StandardPresetName = 'paper' | 'cpu' | 'demo' | 'smoke';

/** A validated set of named presets for one schema. */
export interface Presets<S extends z.ZodType, N extends string = string> {
  readonly schema: S;
  /** Preset names in definition order. */
  readonly names: readonly N[];
  /** The preset data as written (schema input). */
  readonly raw: Readonly<Record<N, z.input<S>>>;
  /** The parsed (defaults filled) preset. */
  get(name: N): z.output<S>;
}

/**
 * Declares the presets of an experiment as plain data: `paper` (reference hyper-parameters, for GPU users),
 * `cpu` (a meaningful overnight CPU run), `demo` (the README job), `smoke` (tests), plus any extra names.
 * Every preset is validated by `schema` at once, so a broken preset fails at import (and in every test).
 */
export function definePresets<S extends z.ZodType, const P extends Record<StandardPresetName, z.input<S>> & Record<string, z.input<S>>>(
  schema: S,
  presets: P,
): Presets<S, Extract<keyof P, string>> {
  type N = Extract<keyof P, string>;
  const names = Object.keys(presets) as N[];
  const missing = (['paper', 'cpu', 'demo', 'smoke'] as const).filter((n) => !(n in presets));
  if (missing.length) {
    throw new ConfigError(`Presets must include paper, cpu, demo and smoke; missing: ${missing.join(', ')}.`, { field: 'preset', missing });
  }
  const parsed = new Map<N, z.output<S>>();
  for (const n of names) parsed.set(n, parseConfig(schema, presets[n], `preset '${n}'`));
  return {
    schema,
    names,
    raw: presets as unknown as Readonly<Record<N, z.input<S>>>,
    get(name) {
      if (!parsed.has(name)) throw unknownPreset(name, names);
      return parsed.get(name) as z.output<S>;
    },
  };
}

function unknownPreset(name: string, names: readonly string[]): ConfigError {
  return new ConfigError(`Unknown preset '${name}'. Valid presets: ${names.join(', ')}.`, { field: 'preset', value: name, allowed: [...names] });
}

/**
 * Picks preset `name`, applies overrides (an object deep-merged into the preset data, or CLI `--set`
 * assignments) and validates the result. Unknown names throw {@link ConfigError} listing the valid ones.
 */
export function resolvePreset<S extends z.ZodType>(
  presets: Presets<S>,
  name: string,
  overrides?: Readonly<Record<string, unknown>> | readonly string[],
): z.output<S> {
  if (!presets.names.includes(name)) throw unknownPreset(name, presets.names);
  if (overrides === undefined || (Array.isArray(overrides) && overrides.length === 0)) return presets.get(name);
  const obj = Array.isArray(overrides) ? parseSetOverrides(presets.schema, overrides as readonly string[]) : overrides;
  const merged = applyOverrides(presets.raw[name] as unknown, obj);
  return parseConfig(presets.schema, merged, `preset '${name}' with overrides`);
}
