export { initBackend } from './init-backend.js';
export type { BackendName, BackendChoice, InitBackendOptions, NativeChoice } from './init-backend.js';
export { registerWasmTrainingKernels, unregisterWasmTrainingKernels } from './kernels/index.js';
export { enableWasmThreads } from './threads/index.js';
export type { WasmThreadsResult, EnableWasmThreadsOptions } from './threads/index.js';
export { registerNativeKernels, unregisterNativeKernels, nativeKernelsActive } from './kernels/native/index.js';
export type { NativeKernelsAddon } from './kernels/native/index.js';
export { registerTrainingKernelsFor } from './kernels/other-backends.js';
