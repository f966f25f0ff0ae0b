import { ConfigError } from '@promptkd/core';

/** Why a label mapping was rejected (`details.reason` of {@link InvalidLabelMappingError}). */
export type LabelMappingProblem =
  | 'too-many-source-classes'
  | 'duplicate-target'
  | 'out-of-range'
  | 'not-integer'
  | 'empty';

/**
 * A label mapping π is invalid: more source classes than host classes, two source classes reading the same
 * host logit, or a host index outside `[0, K_host)`. A {@link ConfigError} (code `E_CONFIG`) with
 * `details.reason` set to a {@link LabelMappingProblem}.
 */
export class InvalidLabelMappingError extends ConfigError {
  readonly reason: LabelMappingProblem;

  constructor(reason: LabelMappingProblem, message: string, details: Record<string, unknown> = {}) {
    super(message, { ...details, reason });
    this.reason = reason;
  }
}
