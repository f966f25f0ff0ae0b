import { PromptKdError } from '@promptkd/core';

/**
 * Writing to disk failed for a reason the user must fix (disk full, no permission, read-only file system).
 * `details.file` names the file, `details.errno` the system code (`ENOSPC`, `EACCES`, ...). Whatever was on
 * disk before the failed write (e.g. the previous checkpoint) is left untouched.
 */
export class StorageError extends PromptKdError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('E_STORAGE', message, details, options);
  }
}
