export { enableWasmThreads } from './enable-wasm-threads.js';
export type { EnableWasmThreadsOptions, WasmThreadsResult } from './enable-wasm-threads.js';
