// Browser entry of the equality test: window.promptkdRun(backend) initialises the backend with @promptkd/tfjs-env's
// browser entry and runs the shared cases.
import * as tf from '@tensorflow/tfjs';
import { initBackend, type BrowserBackendName } from '@promptkd/tfjs-env/browser';
import { runCases } from './browser-cases.js';

(globalThis as { promptkdRun?: unknown }).promptkdRun = async (backend: BrowserBackendName, only?: string[], flags: Record<string, number | boolean> = {}) => {
  const lines: string[] = [];
  const choice = await initBackend({ backend, wasmPaths: '/wasm/', log: (l) => lines.push(l) });
  for (const [k, v] of Object.entries(flags)) tf.env().set(k, v);
  const result = await runCases(only);
  return { backend: choice.backend, patches: choice.patches, report: lines, ...result };
};
