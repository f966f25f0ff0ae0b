/*
 * @promptkd/models for Node: everything of the main entry plus safetensors and model-weight files on disk.
 * Browser bundles import '@promptkd/models' (weights from URLs or dropped files: `loadModelWeightsFrom`).
 */
export * from './index.js';
export { readSafetensors, writeSafetensors, writeBytesAtomic } from './safetensors-files.js';
export { saveModelWeights, loadModelWeights } from './model-weights-files.js';
export { loadOrTrainCached, modelCacheDir, cacheKeyOf, type LoadOrTrainCachedOptions, type CachedModel, type CachedTrainingCheckpoint } from './load-or-train-cached.js';
