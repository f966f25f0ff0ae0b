export * from './errors.js';
export * from './registry.js';
export * from './rng.js';
export * from './contracts.js';
export * from './tensors.js';
export * from './safetensors.js';
export * from './gelu.js';
export * from './layer-norm.js';
