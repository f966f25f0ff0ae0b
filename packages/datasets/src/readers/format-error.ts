import { DataFormatError } from '@promptkd/core';

/** Builds the {@link DataFormatError} every reader throws: `<file>: <problem>. <hint>` with `details.file`. */
export function formatError(file: string, problem: string, hint?: string, cause?: unknown): DataFormatError {
  const msg = `${file}: ${problem}.${hint ? ` ${hint}` : ''}`;
  return new DataFormatError(msg, { file, problem }, cause === undefined ? undefined : { cause });
}
