import * as z from 'zod';
import { ConfigError } from '@promptkd/core';

/** A positive integer field. */
export const positiveInt = z.number().int().positive();
/** A prompt length split into L/2 key and L/2 value prefix tokens: positive and even. */
export const evenLength = positiveInt.refine((v) => v % 2 === 0, { message: 'must be even (L/2 key + L/2 value prefix tokens)' });
/** Indices of the transformer blocks that get prefixes. */
export const blockIndices = z.array(z.number().int().nonnegative()).readonly();

/**
 * Validates `raw` against a zod schema; throws a {@link ConfigError} that names `what` (e.g. `coda config`,
 * `preset 'cpu'`), every bad field and zod's reason.
 */
export function parseWithSchema<S extends z.ZodType>(what: string, schema: S, raw: unknown): z.output<S> {
  const result = schema.safeParse(raw);
  if (result.success) return result.data;
  const issues = result.error.issues.map((i) => ({ field: i.path.length ? i.path.map(String).join('.') : '(root)', message: i.message }));
  throw new ConfigError(`Invalid ${what}:\n${issues.map((i) => `  - ${i.field}: ${i.message}`).join('\n')}`, { field: issues[0]?.field, issues });
}
