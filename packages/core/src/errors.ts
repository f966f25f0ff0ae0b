/**
 * Typed errors shared by every promptkd package. Each error says what was wrong and what to do;
 * `code` is stable and can be matched by callers.
 */
export class PromptKdError extends Error {
  /** Stable machine-readable code, e.g. `E_SHAPE`. */
  readonly code: string;
  /** Optional structured details (file, field, step, ...). */
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: string, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
    this.details = details;
  }
}

/** A config field or argument is invalid. `details.field` names it. */
export class ConfigError extends PromptKdError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('E_CONFIG', message, details, options);
  }
}

/** A tensor has the wrong rank, size or dtype. */
export class ShapeError extends PromptKdError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('E_SHAPE', message, details);
  }
}

/** Unknown or duplicate registry key. */
export class RegistryError extends PromptKdError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('E_REGISTRY', message, details);
  }
}

/** A file is truncated, corrupt or not in the expected format. `details.file` names it. */
export class DataFormatError extends PromptKdError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('E_FORMAT', message, details, options);
  }
}

/** A checkpoint is missing weights, has unexpected ones or mismatched shapes. */
export class CheckpointError extends PromptKdError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('E_CHECKPOINT', message, details, options);
  }
}

/** A loss, gradient or weight became NaN or infinite. `details.step` and `details.term` locate it. */
export class NonFiniteError extends PromptKdError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('E_NONFINITE', message, details);
  }
}

/** No usable TensorFlow.js backend, or a backend failed to initialise. */
export class BackendError extends PromptKdError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('E_BACKEND', message, details, options);
  }
}

/** A resource (dataset file, checkpoint) is not available offline. `details.file` says where to put it. */
export class ResourceUnavailableError extends PromptKdError {
  constructor(message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super('E_UNAVAILABLE', message, details, options);
  }
}
