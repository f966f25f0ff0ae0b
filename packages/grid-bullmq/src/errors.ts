import { PromptKdError } from '@promptkd/core';

/** Redis cannot be reached (refused, timed out, unknown host). `details.redis` is the address without credentials. */
export class QueueConnectionError extends PromptKdError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('E_QUEUE_CONNECTION', message, details, options);
  }
}

/** Redis refused the credentials (wrong password or user) or wants a password that was not given. */
export class QueueAuthError extends PromptKdError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('E_QUEUE_AUTH', message, details, options);
  }
}
