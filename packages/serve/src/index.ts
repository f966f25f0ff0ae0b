export { createPromptServer, startPromptServer, type Prediction, type PromptServerOptions, type PromptServerState } from './server.js';
export { PromptRegistry, type PromptRegistryOptions, type RefusedPrompt, type RegistryLog } from './prompt-registry.js';
export {
  MixedBatcher,
  RequestAbortedError,
  ServerBusyError,
  type BatchInfo,
  type BatchingOptions,
  type PredictJobInput,
  type RowResult,
} from './mixed-batcher.js';
export { ServedPrompt, type PromptSummary } from './served-prompt.js';
export { servablePromptInput, servingMetadataSchema, sha256File, type ServablePromptOptions, type ServingMetadata } from './servable.js';
export { writeServablePrompts } from './write-servable-prompts.js';
export { defaultModelCacheDir, loadHost, resolveHostFile, type LoadedHost } from './host.js';
export { decodeUpload, parseRawPixels, parseRawShape, type ImageLimits, type ImageShape3 } from './image-input.js';
export { preprocessRegistry } from './preprocess.js';
export { ApiKeyGate, allows, parseApiKeys, readApiKeyFile, type ApiKey, type KeyScope } from './api-keys.js';
export { createServeMetrics, type ServeMetrics } from './metrics.js';
export { topK, type TopClass } from './top-k.js';
