/** Marks promptkd errors across duplicate copies of this package (two versions installed side by side). */
const MARKER = Symbol.for('@promptkd/core/error');

/** A promptkd error as plain JSON (e.g. sent from a child process to its parent). */
export interface PromptKdErrorJson {
  readonly name: string;
  readonly code: string;
  readonly message: string;
  readonly details: Readonly<Record<string, unknown>>;
}

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
    Object.defineProperty(this, MARKER, { value: true });
  }

  /**
   * Whether `error` is a promptkd error, also when it comes from another copy of `@promptkd/core` (where
   * `instanceof` fails). With `code`, also checks the error code (`E_CONFIG`, ...).
   */
  static isInstance(error: unknown, code?: string): error is PromptKdError {
    if (typeof error !== 'object' || error === null || (error as Record<symbol, unknown>)[MARKER] !== true) return false;
    return code === undefined || (error as PromptKdError).code === code;
  }

  /** The error as JSON: name, code, message and details (details must be JSON-safe to survive the trip). */
  toJSON(): PromptKdErrorJson {
    return { name: this.name, code: this.code, message: this.message, details: this.details };
  }

  /**
   * Rebuilds an error from {@link PromptKdError.toJSON}: an instance of the class with that code (ConfigError for
   * `E_CONFIG`, ...) or a plain PromptKdError for unknown codes, with the same message and details.
   */
  static fromJSON(json: PromptKdErrorJson): PromptKdError {
    const Known = ERROR_CLASSES[json.code];
    const error = Known ? new Known(json.message, { ...json.details }) : new PromptKdError(json.code, json.message, { ...json.details });
    if (json.name) error.name = json.name;
    return error;
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

type ErrorClass = new (message: string, details?: Record<string, unknown>) => PromptKdError;

/** Error classes by code, for {@link PromptKdError.fromJSON}. */
const ERROR_CLASSES: Readonly<Record<string, ErrorClass>> = {
  E_CONFIG: ConfigError,
  E_SHAPE: ShapeError,
  E_REGISTRY: RegistryError,
  E_FORMAT: DataFormatError,
  E_CHECKPOINT: CheckpointError,
  E_NONFINITE: NonFiniteError,
  E_BACKEND: BackendError,
  E_UNAVAILABLE: ResourceUnavailableError,
};
