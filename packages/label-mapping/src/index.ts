export { InvalidLabelMappingError, type LabelMappingProblem } from './errors.js';
export {
  FixedLabelMapping,
  applyLabelMapping,
  labelMappingFromJSON,
  selectionMatrix,
  validateLabelMapping,
} from './label-mapping.js';
export { randomLabelMapping, randomLabelMappingSlices, type RandomLabelMappingConfig } from './random-label-mapping.js';
export {
  countMatrix,
  frequencyLabelMapping,
  frequencyLabelMappingFrom,
  toClassIndices,
  type ClassEvidence,
} from './frequency-label-mapping.js';
export { IterativeLabelMapping, type IterativeLabelMappingConfig } from './iterative-label-mapping.js';
export {
  createLabelMapping,
  labelMappingRegistry,
  type FixedLabelMappingConfig,
  type FrequencyLabelMappingConfig,
  type LabelMappingConfigs,
  type LabelMappingFactory,
} from './registry.js';
