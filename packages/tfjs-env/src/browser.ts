/*
 * @promptkd/tfjs-env in a browser (the `browser` export condition): backend choice webgpu → webgl → wasm → cpu and
 * the training kernels each lacks. The Node entry (tfjs-node, wasm threads, native kernels) is './index.ts'.
 */
export { initBackend, browserBackendReport } from './init-backend-browser.js';
export type { BrowserBackendName, InitBrowserBackendOptions } from './init-backend-browser.js';
export type { BackendChoice } from './init-backend.js';
export { registerWasmTrainingKernels, unregisterWasmTrainingKernels } from './kernels/index.js';
export { registerTrainingKernelsFor } from './kernels/other-backends.js';
